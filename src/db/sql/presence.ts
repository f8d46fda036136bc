// Node presence in the database: the `connected` flag on nodes, and a lost node's servers
// becoming UNKNOWN. Both write their events in the same transaction.
import type pg from 'pg'
import { appendEvents, type NewEvent } from './events.ts'

export interface PresenceChange { nodeId: string, connected: boolean, at: Date }

/** Writes presence changes in arrival order (the last per node wins) with one event each. */
export async function writePresence (client: pg.PoolClient, changes: PresenceChange[], events: NewEvent[]): Promise<void> {
  const last = new Map(changes.map(c => [c.nodeId, c]))
  await client.query({
    name: 'presence_write',
    text: `UPDATE nodes n SET connected = v.connected, last_seen_at = v.at, updated_at = now()
           FROM unnest($1::uuid[], $2::boolean[], $3::timestamptz[]) AS v(id, connected, at)
           WHERE n.id = v.id`,
    values: [[...last.keys()], [...last.values()].map(c => c.connected), [...last.values()].map(c => c.at)]
  })
  await appendEvents(client, events)
}

export interface LostServer { serverId: string, from: string, at: Date }

/**
 * Every server of the node that is not UNKNOWN already becomes UNKNOWN, with a transition
 * (seq NULL: the hub, not the agent, made it). Returns the servers moved, for their events.
 */
export async function markNodeServersUnknown (client: pg.PoolClient, nodeId: string): Promise<LostServer[]> {
  const { rows } = await client.query<{ server_id: string, from_status: string, at: Date }>({
    name: 'presence_mark_unknown',
    text: `WITH old AS (
             SELECT id, status FROM servers WHERE node_id = $1 AND status <> 'UNKNOWN' ORDER BY id FOR UPDATE
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
