/**
 * Creates (or reuses, by name) the nodes and servers of the run through the hub's REST API, and
 * gets an agent token for each node. Names are `<prefix>-node-<i>` and `<prefix>-node-<i>-srv-<j>`,
 * so a second run against the same hub reuses the fleet instead of growing it; reusing a node
 * rotates its token (POST /api/nodes/:id/token), since the hub never hands out an old one.
 *
 * Fallback, said in the output and the report: while the hub lacks `POST /api/servers` or
 * `GET /api/alts` (404 "no route"), servers are inserted directly with SQL when the simulator has
 * the database (it started the hub, or --database-url). Without either, the run stops with why.
 */
import pg from 'pg'
import type { HelloServer } from '../../src/agent-protocol/index.ts'
import { ApiError, mapLimit, type ApiClient } from './api-client.ts'
import { agentStatusOf } from './lifecycle.ts'
import type { WorkerAgent } from './worker-protocol.ts'

const API_CONCURRENCY = 16
const FIRST_GAME_PORT = 25565

export interface Fleet {
  agents: WorkerAgent[]
  /** How servers were provisioned, and anything the user should know about it. */
  notes: string[]
}

interface NodeRow { id: string, name: string }
/** `seq` is absent from the API's server view: 0 is then safe, since `welcome.lastSeq` corrects it. */
interface ServerRow { id: string, name: string, nodeId: string, status: string, seq?: number | string | null }

export async function provision (api: ApiClient, opts: { prefix: string, agents: number, servers: number }, databaseUrl: string | undefined, log: (line: string) => void): Promise<Fleet> {
  const notes: string[] = []
  const existing = new Map<string, NodeRow>()
  for (const node of await listAll<NodeRow>(api, '/api/nodes')) existing.set(node.name, node)
  const names = Array.from({ length: opts.agents }, (_, i) => `${opts.prefix}-node-${i}`)
  let reused = 0
  const nodes = await mapLimit(names, API_CONCURRENCY, async (name) => {
    const node = existing.get(name)
    if (node !== undefined) {
      reused++
      const { agentToken } = await api.request<{ agentToken: string }>('POST', `/api/nodes/${node.id}/token`)
      return { node, token: agentToken }
    }
    const created = await api.request<{ node: NodeRow, agentToken: string }>('POST', '/api/nodes', { name })
    return { node: created.node, token: created.agentToken }
  })
  log(`nodes: ${nodes.length - reused} created, ${reused} reused`)

  const db = databaseUrl === undefined ? undefined : new pg.Pool({ connectionString: databaseUrl, max: 4 })
  try {
    const byNode = await ensureServers(api, db, nodes.map((n) => n.node), opts.servers, notes, log)
    const agents = nodes.map(({ node, token }) => ({
      nodeId: node.id,
      token,
      servers: (byNode.get(node.id) ?? []).map((s): HelloServer => ({ serverId: s.id, status: agentStatusOf(s.status), seq: Number(s.seq ?? 0) || 0 }))
    }))
    return { agents, notes }
  } finally {
    await db?.end()
  }
}

async function ensureServers (api: ApiClient, db: pg.Pool | undefined, nodes: NodeRow[], perNode: number, notes: string[], log: (line: string) => void): Promise<Map<string, ServerRow[]>> {
  const nodeIds = new Set(nodes.map((n) => n.id))
  let have: ServerRow[]
  try {
    have = (await listAll<ServerRow>(api, '/api/servers', 'limit=500')).filter((s) => nodeIds.has(s.nodeId))
  } catch (err) {
    if (!(err instanceof ApiError && err.routeMissing) || db === undefined) throw err
    have = await selectServers(db, [...nodeIds])
  }
  const haveNames = new Set(have.map((s) => `${s.nodeId}/${s.name}`))
  const missing: Array<{ name: string, nodeId: string, port: number }> = []
  for (const node of nodes) {
    for (let j = 0; j < perNode; j++) {
      const name = `${node.name}-srv-${j}`
      if (!haveNames.has(`${node.id}/${name}`)) missing.push({ name, nodeId: node.id, port: FIRST_GAME_PORT + j })
    }
  }
  if (missing.length > 0) {
    const me = await api.request<{ id: string }>('GET', '/api/me')
    try {
      const altId = await pickAlt(api)
      const created = await mapLimit(missing, API_CONCURRENCY, async (s) =>
        await api.request<ServerRow>('POST', '/api/servers', { ...s, altId, ownerId: me.id }))
      have.push(...created)
    } catch (err) {
      if (!(err instanceof ApiError && err.routeMissing) || db === undefined) throw err
      const note = `the hub has no ${err.message.split(':')[0]} route yet: ${missing.length} servers were inserted with SQL instead`
      notes.push(note)
      log(note)
      await insertServers(db, missing, me.id)
      have = await selectServers(db, [...nodeIds])
    }
  }
  log(`servers: ${missing.length} created, ${have.length - missing.length} reused`)
  const byNode = new Map<string, ServerRow[]>()
  for (const s of have) {
    const list = byNode.get(s.nodeId) ?? []
    list.push(s)
    byNode.set(s.nodeId, list)
  }
  // Only the servers this run asked for, even if the node has more.
  for (const [id, list] of byNode) byNode.set(id, list.sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true })).slice(0, perNode))
  return byNode
}

async function pickAlt (api: ApiClient): Promise<string> {
  const { items } = await api.request<{ items: Array<{ id: string, name: string }> }>('GET', '/api/alts')
  const alt = items.find((a) => a.name === 'generic') ?? items[0]
  if (alt === undefined) throw new Error('the hub has no alt (configuration template) to create servers from')
  return alt.id
}

/** Every page of a `{ items, next }` list; `next` goes back as `after` (PROTOCOL.md's cursor). */
async function listAll<T> (api: ApiClient, path: string, query = ''): Promise<T[]> {
  const out: T[] = []
  let next: string | null = null
  do {
    const page: { items: T[], next: string | null } = await api.request('GET', `${path}?${query}${next === null ? '' : `${query === '' ? '' : '&'}after=${encodeURIComponent(next)}`}`)
    out.push(...page.items)
    next = page.next
  } while (next !== null)
  return out
}

async function selectServers (db: pg.Pool, nodeIds: string[]): Promise<ServerRow[]> {
  const { rows } = await db.query<ServerRow>(
    'SELECT id, name, node_id AS "nodeId", status::text AS status, seq::text AS seq FROM servers WHERE node_id = ANY($1::uuid[])', [nodeIds])
  return rows
}

async function insertServers (db: pg.Pool, rows: Array<{ name: string, nodeId: string, port: number }>, ownerId: string): Promise<void> {
  const { rows: alts } = await db.query<{ id: string }>("SELECT id FROM alts ORDER BY (name = 'generic') DESC, name LIMIT 1")
  const altId = alts[0]?.id
  if (altId === undefined) throw new Error('the hub database has no alt to create servers from')
  // One multi-row INSERT per 1,000 servers: a few round trips even for a large fleet.
  for (let i = 0; i < rows.length; i += 1000) {
    const chunk = rows.slice(i, i + 1000)
    await db.query(
      `INSERT INTO servers (name, node_id, alt_id, owner_id, port, updated_at)
       SELECT n, nd, $4::uuid, $5::uuid, p, now() FROM unnest($1::text[], $2::uuid[], $3::int[]) AS t(n, nd, p)`,
      [chunk.map((r) => r.name), chunk.map((r) => r.nodeId), chunk.map((r) => r.port), altId, ownerId])
  }
}
