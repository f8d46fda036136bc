// Server configurations as the delivery to agents reads them (src/hub/agents/provisioning.ts),
// the acknowledgements agents send back, and the notification that tells every hub instance
// that a configuration changed (sent inside the transaction of the change, so PostgreSQL
// delivers it at commit, and only if the change committed).
import type pg from 'pg'

export const PROVISION_CHANNEL = 'hub_provision'

export type ProvisionChange =
  /** A server was created or changed: its node's agent gets the new configuration. */
  | { kind: 'server', serverId: string, nodeId: string }
  /** A template changed: every server made from it has a new revision. */
  | { kind: 'alt', altId: string }
  /** A server was deleted: its node's agent gets `server.removed`. */
  | { kind: 'removed', serverId: string, nodeId: string }

/** What a Prisma client or transaction offers for raw SQL. */
interface RawSql { $executeRaw (query: TemplateStringsArray, ...values: unknown[]): Promise<number> }

export async function notifyProvision (tx: RawSql, change: ProvisionChange): Promise<void> {
  await tx.$executeRaw`SELECT pg_notify(${PROVISION_CHANNEL}, ${JSON.stringify(change)})`
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
const isUuid = (v: unknown): v is string => typeof v === 'string' && UUID.test(v)

/** Parses a notification payload; anything else (a foreign sender, a newer format) is ignored. */
export function parseProvisionChange (payload: string | undefined): ProvisionChange | undefined {
  let v: Record<string, unknown>
  try {
    v = JSON.parse(payload ?? '') as Record<string, unknown>
  } catch {
    return undefined
  }
  if (typeof v !== 'object' || v === null) return undefined
  if ((v.kind === 'server' || v.kind === 'removed') && isUuid(v.serverId) && isUuid(v.nodeId)) return { kind: v.kind, serverId: v.serverId, nodeId: v.nodeId }
  if (v.kind === 'alt' && isUuid(v.altId)) return { kind: 'alt', altId: v.altId }
  return undefined
}

/** A server with its template, as resolution needs them. */
export interface ConfigRow {
  id: string
  nodeId: string
  altId: string
  name: string
  port: number
  environment: Record<string, string>
  memoryLimitMb: number | null
  autoRestart: { enabled: boolean, maxRestarts: number, windowS: number }
  configRevision: number
  configAckedRevision: number | null
  startup: string
  stop: { type: 'command' | 'signal', value: string, graceS: number }
  doneRegex: string | null
  install: string | null
  variables: Array<{ name: string, default?: string, description: string, required: boolean }>
}

const CONFIG_COLUMNS = `s.id::text, s.node_id::text AS "nodeId", s.alt_id::text AS "altId", s.name, s.port, s.environment,
  s.memory_limit_mb AS "memoryLimitMb", s.auto_restart AS "autoRestart", s.config_revision AS "configRevision",
  s.config_acked_revision AS "configAckedRevision", a.startup, a.stop, a.done_regex AS "doneRegex", a.install, a.variables`

/** Every server of these nodes, with its template. */
export async function configsOfNodes (pool: pg.Pool, nodeIds: string[]): Promise<ConfigRow[]> {
  const { rows } = await pool.query<ConfigRow>({
    name: 'provision_configs_of_nodes',
    text: `SELECT ${CONFIG_COLUMNS} FROM servers s JOIN alts a ON a.id = s.alt_id WHERE s.node_id = ANY($1::uuid[]) ORDER BY s.id`,
    values: [nodeIds]
  })
  return rows
}

/** These servers (those that still exist), with their templates. */
export async function configsOfServers (pool: pg.Pool, serverIds: string[]): Promise<ConfigRow[]> {
  const { rows } = await pool.query<ConfigRow>({
    name: 'provision_configs_of_servers',
    text: `SELECT ${CONFIG_COLUMNS} FROM servers s JOIN alts a ON a.id = s.alt_id WHERE s.id = ANY($1::uuid[]) ORDER BY s.id`,
    values: [serverIds]
  })
  return rows
}

/** The servers of these nodes made from this template. */
export async function configsOfAlt (pool: pg.Pool, altId: string, nodeIds: string[]): Promise<ConfigRow[]> {
  const { rows } = await pool.query<ConfigRow>({
    name: 'provision_configs_of_alt',
    text: `SELECT ${CONFIG_COLUMNS} FROM servers s JOIN alts a ON a.id = s.alt_id WHERE s.alt_id = $1::uuid AND s.node_id = ANY($2::uuid[]) ORDER BY s.id`,
    values: [altId, nodeIds]
  })
  return rows
}

/** Servers of these nodes whose latest revision no agent has acknowledged: resent until it does. */
export async function unackedConfigs (pool: pg.Pool, nodeIds: string[]): Promise<ConfigRow[]> {
  const { rows } = await pool.query<ConfigRow>({
    name: 'provision_unacked_configs',
    text: `SELECT ${CONFIG_COLUMNS} FROM servers s JOIN alts a ON a.id = s.alt_id
           WHERE s.node_id = ANY($1::uuid[]) AND s.config_acked_revision IS DISTINCT FROM s.config_revision ORDER BY s.id`,
    values: [nodeIds]
  })
  return rows
}

/**
 * Records what the node's agent runs: `revision` becomes the acknowledged one unless a later one
 * was acknowledged already, or it is not a revision the server had (stale or invented: ignored).
 * `unknown`: the server is not on this node (or does not exist).
 */
export async function recordConfigAcks (pool: pg.Pool, nodeId: string, acks: Array<{ serverId: string, revision: number }>): Promise<Map<string, 'applied' | 'stale' | 'unknown'>> {
  const { rows } = await pool.query<{ id: string, applied: boolean }>({
    name: 'provision_record_acks',
    // One row per server (its highest revision): UPDATE ... FROM with two rows joining one server
    // applies an arbitrary one of them, so acks 2 and 1 in one batch could store 1.
    text: `WITH acks AS (SELECT server_id, max(revision) AS revision FROM unnest($2::uuid[], $3::int[]) AS a(server_id, revision) GROUP BY server_id),
           updated AS (
             UPDATE servers s SET config_acked_revision = a.revision
             FROM acks a
             WHERE s.id = a.server_id AND s.node_id = $1::uuid AND a.revision <= s.config_revision
               AND (s.config_acked_revision IS NULL OR s.config_acked_revision < a.revision)
             RETURNING s.id)
           SELECT s.id::text, EXISTS (SELECT 1 FROM updated u WHERE u.id = s.id) AS applied
           FROM servers s WHERE s.id IN (SELECT server_id FROM acks) AND s.node_id = $1::uuid`,
    values: [nodeId, acks.map(a => a.serverId), acks.map(a => a.revision)]
  })
  const outcome = new Map<string, 'applied' | 'stale' | 'unknown'>(acks.map(a => [a.serverId, 'unknown']))
  for (const r of rows) outcome.set(r.id, r.applied ? 'applied' : 'stale')
  return outcome
}
