// Group commit of agent status reports: one transaction writes a whole batch with one multi-row
// statement (unnest of arrays), so the cost per transition falls as load rises. The batch's
// server rows are locked first (FOR UPDATE), so the seq and state-machine checks made in
// memory hold until commit. Statements are named, hence prepared once per connection.
import type pg from 'pg'

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

interface ServerRow { id: string, node_id: string, status: string, seq: string }

const byId = (rows: ServerRow[]): Map<string, StoredServer> =>
  new Map(rows.map(r => [r.id, { id: r.id, nodeId: r.node_id, status: r.status, seq: Number(r.seq) }]))

export async function lockServers (client: pg.PoolClient, ids: string[]): Promise<Map<string, StoredServer>> {
  const { rows } = await client.query<ServerRow>({
    name: 'status_batch_lock',
    text: 'SELECT id, node_id, status, seq FROM servers WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE',
    values: [ids]
  })
  return byId(rows)
}

/** Inserts the transitions and moves each server to its last one, in one statement (one round trip). */
export async function writeTransitions (client: pg.PoolClient, rows: TransitionRow[], finals: Map<string, TransitionRow>): Promise<void> {
  const last = [...finals.values()]
  await client.query({
    name: 'status_batch_write',
    text: `WITH inserted AS (
             INSERT INTO server_status_transitions (server_id, from_status, to_status, seq, reason, at)
             SELECT * FROM unnest($1::uuid[], $2::"ServerStatus"[], $3::"ServerStatus"[], $4::bigint[], $5::text[], $6::timestamptz[])
           )
           UPDATE servers s SET status = v.status, seq = v.seq, status_changed_at = v.at, updated_at = now()
           FROM unnest($7::uuid[], $8::"ServerStatus"[], $9::bigint[], $10::timestamptz[]) AS v(id, status, seq, at)
           WHERE s.id = v.id`,
    values: [
      rows.map(r => r.serverId), rows.map(r => r.from), rows.map(r => r.to), rows.map(r => r.seq), rows.map(r => r.reason), rows.map(r => r.at),
      last.map(r => r.serverId), last.map(r => r.to), last.map(r => r.seq), last.map(r => r.at)
    ]
  })
}

/** Locks every server of these nodes (for `hello` snapshots), by node. */
export async function lockNodeServers (client: pg.PoolClient, nodeIds: string[]): Promise<Map<string, Map<string, StoredServer>>> {
  const { rows } = await client.query<ServerRow>({
    name: 'status_batch_lock_nodes',
    text: 'SELECT id, node_id, status, seq FROM servers WHERE node_id = ANY($1::uuid[]) ORDER BY id FOR UPDATE',
    values: [nodeIds]
  })
  const byNode = new Map<string, Map<string, StoredServer>>()
  for (const [id, server] of byId(rows)) {
    let servers = byNode.get(server.nodeId)
    if (servers === undefined) byNode.set(server.nodeId, servers = new Map())
    servers.set(id, server)
  }
  return byNode
}
