// Group commit of agent status reports: one transaction writes a whole batch with one multi-row
// statement, so the cost per transition falls as load rises. The batch's server rows are locked
// first (FOR UPDATE), so the seq and state-machine checks made in memory hold until commit.
// Both statements carry their values inlined (ids and rows as one JSON constant each), because
// they share a message with BEGIN and with COMMIT (inBatchTransaction): two round trips a batch.
import { jsonb } from './events.ts'

export interface StoredServer {
  id: string
  nodeId: string
  status: string
  seq: number
}

export interface TransitionRow {
  serverId: string
  from: string
  to: string
  seq: number
  reason: string | null
  at: Date
}

export interface ServerRow { id: string, node_id: string, status: string, seq: string }

export const byId = (rows: ServerRow[]): Map<string, StoredServer> =>
  new Map(rows.map(r => [r.id, { id: r.id, nodeId: r.node_id, status: r.status, seq: Number(r.seq) }]))

/** The statement that locks these servers, in id order (so lanes and hubs never deadlock); rows are ServerRow. */
export const lockServersSql = (ids: readonly string[]): string =>
  `SELECT id, node_id, status, seq FROM servers
   WHERE id = ANY(ARRAY(SELECT jsonb_array_elements_text(${jsonb(ids)})::uuid)) ORDER BY id FOR UPDATE`

/**
 * The statement that inserts the transitions and moves each server to its last one: `finals`
 * may hold servers whose seq alone moved (a hello), which have no row in `rows`.
 */
export function writeTransitionsSql (rows: readonly TransitionRow[], finals: Map<string, TransitionRow>): string {
  const last = [...finals.values()].map(r => ({ id: r.serverId, status: r.to, seq: r.seq, at: r.at }))
  const inserted = rows.map(r => ({ server_id: r.serverId, from_status: r.from, to_status: r.to, seq: r.seq, reason: r.reason, at: r.at }))
  return `WITH inserted AS (
            INSERT INTO server_status_transitions (server_id, from_status, to_status, seq, reason, at)
            SELECT server_id, from_status, to_status, seq, reason, at FROM jsonb_to_recordset(${jsonb(inserted)})
              AS v(server_id uuid, from_status "ServerStatus", to_status "ServerStatus", seq bigint, reason text, at timestamptz)
          )
          UPDATE servers s SET status = v.status, seq = v.seq, status_changed_at = v.at, updated_at = now()
          FROM jsonb_to_recordset(${jsonb(last)}) AS v(id uuid, status "ServerStatus", seq bigint, at timestamptz)
          WHERE s.id = v.id`
}

/** The statement that locks every server of these nodes (for `hello` snapshots); rows are ServerRow. */
export const lockNodeServersSql = (nodeIds: readonly string[]): string =>
  `SELECT id, node_id, status, seq FROM servers
   WHERE node_id = ANY(ARRAY(SELECT jsonb_array_elements_text(${jsonb(nodeIds)})::uuid)) ORDER BY id FOR UPDATE`

/** Locked server rows by node. */
export function byNode (rows: ServerRow[]): Map<string, Map<string, StoredServer>> {
  const nodes = new Map<string, Map<string, StoredServer>>()
  for (const [id, server] of byId(rows)) {
    let servers = nodes.get(server.nodeId)
    if (servers === undefined) nodes.set(server.nodeId, servers = new Map())
    servers.set(id, server)
  }
  return nodes
}
