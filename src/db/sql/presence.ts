// Node presence in the database, shared by every hub on it: `connected` and `connection_id` (the
// live connection, wherever it is held), `last_seen_at` as a lease the holding hub renews, and a
// lost node's servers becoming UNKNOWN. Every change writes its events in the same transaction.
import type pg from 'pg'
import { statusEvent, type NewEvent } from './events.ts'
import type { Emit } from './transaction.ts'

export interface PresenceChange { nodeId: string, connectionId: string, connected: boolean, at: Date }

const presenceEvent = (c: PresenceChange): NewEvent =>
  ({ kind: 'node.presence', serverId: null, nodeId: c.nodeId, data: { nodeId: c.nodeId, connected: c.connected, connectionId: c.connectionId }, at: c.at })

/**
 * Applies presence changes in order. A connect always applies; a disconnect only while its
 * connection is still the node's live one (a replaced connection's late disconnect changes
 * nothing). Emits one event per applied change; returns, per change, whether it applied.
 */
export async function writePresence (client: pg.PoolClient, emit: Emit, changes: PresenceChange[]): Promise<boolean[]> {
  const { rows } = await client.query<{ id: string, connection_id: string | null }>({
    name: 'presence_lock',
    text: 'SELECT id, connection_id FROM nodes WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE',
    values: [[...new Set(changes.map(c => c.nodeId))]]
  })
  const live = new Map(rows.map(r => [r.id, r.connection_id]))
  const applied = changes.map(c => {
    if (!live.has(c.nodeId)) return false // deleted meanwhile
    if (c.connected) live.set(c.nodeId, c.connectionId)
    else if (live.get(c.nodeId) === c.connectionId) live.set(c.nodeId, null)
    else return false
    return true
  })
  const events = changes.filter((_, i) => applied[i]).map(presenceEvent)
  if (events.length === 0) return applied
  const touched = [...new Set(changes.filter((_, i) => applied[i]).map(c => c.nodeId))]
  await client.query({
    name: 'presence_write',
    text: `UPDATE nodes n SET connection_id = v.connection_id, connected = v.connection_id IS NOT NULL,
             last_seen_at = now(), updated_at = now()
           FROM unnest($1::uuid[], $2::uuid[]) AS v(id, connection_id)
           WHERE n.id = v.id`,
    values: [touched, touched.map(id => live.get(id) ?? null)]
  })
  emit(events)
  return applied
}

/** Renews the lease of the nodes whose live connection this hub holds. */
export async function renewLeases (pool: pg.Pool, held: Array<{ nodeId: string, connectionId: string }>): Promise<void> {
  if (held.length === 0) return
  await pool.query({
    name: 'presence_renew',
    text: `UPDATE nodes n SET last_seen_at = now()
           FROM unnest($1::uuid[], $2::uuid[]) AS v(id, connection_id)
           WHERE n.id = v.id AND n.connection_id = v.connection_id`,
    values: [held.map(h => h.nodeId), held.map(h => h.connectionId)]
  })
}

export interface SweepResult { nodes: number, servers: number }

/**
 * Nodes unseen for `graceMs` (disconnected that long, or held by a hub that stopped renewing
 * the lease) are lost: still-connected ones become disconnected, and their servers that are not
 * UNKNOWN yet become UNKNOWN, with a transition whose seq is NULL (the hub, not the agent, made
 * it). SKIP LOCKED lets several hubs sweep at once without waiting on or repeating each other.
 */
export async function sweepLostNodes (client: pg.PoolClient, emit: Emit, graceMs: number, limit = 1_000): Promise<SweepResult> {
  const { rows: lost } = await client.query<{ id: string, connection_id: string | null }>({
    name: 'presence_sweep_lock',
    text: `SELECT id, connection_id FROM nodes n
           WHERE last_seen_at < now() - make_interval(secs => $1::double precision / 1000)
             AND (connected OR EXISTS (SELECT 1 FROM servers s WHERE s.node_id = n.id AND s.status <> 'UNKNOWN'))
           ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED`,
    values: [graceMs, limit]
  })
  if (lost.length === 0) return { nodes: 0, servers: 0 }
  const ids = lost.map(n => n.id)
  const stillConnected = lost.filter(n => n.connection_id !== null)
  if (stillConnected.length > 0) {
    await client.query({
      name: 'presence_sweep_disconnect',
      text: 'UPDATE nodes SET connected = false, connection_id = NULL, updated_at = now() WHERE id = ANY($1::uuid[])',
      values: [stillConnected.map(n => n.id)]
    })
  }
  const { rows: moved } = await client.query<{ server_id: string, node_id: string, from_status: string, at: Date }>({
    name: 'presence_sweep_unknown',
    text: `WITH old AS (
             SELECT id, node_id, status FROM servers WHERE node_id = ANY($1::uuid[]) AND status <> 'UNKNOWN' ORDER BY id FOR UPDATE
           ), moved AS (
             UPDATE servers s SET status = 'UNKNOWN', status_changed_at = now(), updated_at = now()
             FROM old WHERE s.id = old.id
             RETURNING s.id, old.node_id, old.status AS from_status, s.status_changed_at AS at
           ), recorded AS (
             INSERT INTO server_status_transitions (server_id, from_status, to_status, seq, reason, at)
             SELECT id, from_status, 'UNKNOWN', NULL, 'node lost', at FROM moved
           )
           SELECT id AS server_id, node_id, from_status, at FROM moved`,
    values: [ids]
  })
  const now = new Date()
  emit([
    ...stillConnected.map(n => presenceEvent({ nodeId: n.id, connectionId: n.connection_id as string, connected: false, at: now })),
    ...moved.map(s => statusEvent(s.node_id, { serverId: s.server_id, from: s.from_status, to: 'UNKNOWN', seq: null, reason: 'node lost', at: s.at }))
  ])
  return { nodes: lost.length, servers: moved.length }
}
