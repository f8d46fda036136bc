// A lost node's servers become UNKNOWN: one statement updates them and records a transition
// (seq NULL: the hub, not the agent, made it) for each server that was not UNKNOWN already.
import type pg from 'pg'

export interface LostServer { serverId: string, from: string, at: Date }

export async function markNodeServersUnknown (pool: pg.Pool, nodeId: string): Promise<LostServer[]> {
  const { rows } = await pool.query<{ server_id: string, from_status: string, at: Date }>({
    name: 'presence_mark_unknown',
    text: `WITH old AS (
             SELECT id, status FROM servers WHERE node_id = $1 AND status <> 'UNKNOWN' FOR UPDATE
           ), moved AS (
             UPDATE servers s SET status = 'UNKNOWN', status_changed_at = now(), updated_at = now()
             FROM old WHERE s.id = old.id
             RETURNING s.id, old.status AS from_status, s.status_changed_at AS at
           )
           INSERT INTO server_status_transitions (server_id, from_status, to_status, seq, reason, at)
           SELECT id, from_status, 'UNKNOWN', NULL, 'node lost', at FROM moved
           RETURNING server_id, from_status, at`,
    values: [nodeId]
  })
  return rows.map(r => ({ serverId: r.server_id, from: r.from_status, at: r.at }))
}
