// Reads for the panel gateway: subscription snapshots, the access facts RBAC needs, and the
// current principal of a user or session (for revocation). Named statements: they run on every
// subscribe and every revocation, under load.
import type pg from 'pg'
import { eventBounds } from './events.ts'

export interface SnapshotServer {
  serverId: string
  name: string
  nodeId: string
  ownerId: string
  status: string
  updatedAt: Date
}

export interface Snapshot {
  servers: SnapshotServer[]
  /** The node ids of the request that exist. */
  nodes: string[]
  /** The last event id the snapshot reflects, and the oldest event id still kept. */
  last: string
  oldest: string
}

interface ServerRow { id: string, name: string, node_id: string, owner_id: string, status: string, updated_at: Date }
const toServer = (r: ServerRow): SnapshotServer =>
  ({ serverId: r.id, name: r.name, nodeId: r.node_id, ownerId: r.owner_id, status: r.status, updatedAt: r.updated_at })

/**
 * The servers named, the servers of the nodes named, and the event bounds, read in one
 * REPEATABLE READ transaction: writers bump the event counter in the transaction of their change,
 * so the rows read reflect exactly the events up to `last`. Live events after `last` follow the
 * snapshot without a gap or an overlap.
 */
export async function readSnapshot (pool: pg.Pool, serverIds: string[], nodeIds: string[]): Promise<Snapshot> {
  const client = await pool.connect()
  let broken: Error | undefined
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY')
    const servers = await client.query<ServerRow>({
      name: 'panel_snapshot_servers',
      text: `SELECT id, name, node_id, owner_id, status::text, updated_at FROM servers
             WHERE id = ANY($1::uuid[]) OR node_id = ANY($2::uuid[]) ORDER BY id`,
      values: [serverIds, nodeIds]
    })
    const nodes = nodeIds.length === 0
      ? { rows: [] }
      : await client.query<{ id: string }>({ name: 'panel_snapshot_nodes', text: 'SELECT id FROM nodes WHERE id = ANY($1::uuid[])', values: [nodeIds] })
    const { rows } = await client.query<{ last: string, oldest: string | null }>({
      name: 'panel_snapshot_bounds',
      text: 'SELECT (SELECT last_id::text FROM event_counter WHERE id = 1) AS last, (SELECT min(id)::text FROM events) AS oldest'
    })
    await client.query('COMMIT')
    const b = rows[0] as { last: string, oldest: string | null }
    return { servers: servers.rows.map(toServer), nodes: nodes.rows.map(r => r.id), last: b.last, oldest: b.oldest ?? b.last }
  } catch (err) {
    await client.query('ROLLBACK').catch((e: Error) => { broken = e })
    throw err
  } finally {
    client.release(broken)
  }
}

/** Owner and node of each server that still exists (for re-checks after a change). */
export async function readServerAccess (pool: pg.Pool, serverIds: string[]): Promise<Map<string, { ownerId: string, nodeId: string }>> {
  const { rows } = await pool.query<{ id: string, owner_id: string, node_id: string }>({
    name: 'panel_server_access',
    text: 'SELECT id, owner_id, node_id FROM servers WHERE id = ANY($1::uuid[])',
    values: [serverIds]
  })
  return new Map(rows.map(r => [r.id, { ownerId: r.owner_id, nodeId: r.node_id }]))
}

export interface UserAccess { role: 'ADMIN' | 'USER', permissions: string[] }

/** The role and granted permissions of a user, or undefined when the user is gone. */
export async function readUserAccess (pool: pg.Pool, userId: string): Promise<UserAccess | undefined> {
  const { rows } = await pool.query<{ role: 'ADMIN' | 'USER', permissions: string[] }>({
    name: 'panel_user_access',
    text: `SELECT u.role::text AS role, coalesce(array_agg(p.name) FILTER (WHERE p.name IS NOT NULL), '{}') AS permissions
           FROM users u LEFT JOIN user_permissions up ON up.user_id = u.id LEFT JOIN permissions p ON p.id = up.permission_id
           WHERE u.id = $1 GROUP BY u.id`,
    values: [userId]
  })
  return rows[0]
}

export { eventBounds }
