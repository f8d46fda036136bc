// The global event log: appended inside the transaction of the change it describes, read back
// in id order by every hub's event feed (LISTEN/NOTIFY wakes them) and by panels resuming with
// `since`. See the event_log migration for why ids come from a counter row.
import type pg from 'pg'

export const EVENTS_CHANNEL = 'hub_events'

export interface NewEvent {
  kind: 'server.status' | 'node.presence' | 'action.updated'
  serverId: string | null
  nodeId: string | null
  data: Record<string, unknown>
  at: Date
}

export interface StoredEvent extends NewEvent {
  /** A decimal string: ids outgrow 2^53 in theory, and the protocol sends them as strings. */
  id: string
}

/** The `server.status` event of a committed transition. */
export function statusEvent (nodeId: string, t: { serverId: string, from: string | null, to: string, seq: number | null, reason: string | null, at: Date }): NewEvent {
  return {
    kind: 'server.status',
    serverId: t.serverId,
    nodeId,
    data: { serverId: t.serverId, nodeId, from: t.from, to: t.to, seq: t.seq, reason: t.reason },
    at: t.at
  }
}

/**
 * The message that ends a transaction: `statements`, then the events' append, then COMMIT, as
 * one simple-query string, so no round trip to the hub separates them: the event_counter lock is
 * held only while PostgreSQL appends and commits (see the append_events_function migration).
 */
export function commitMessage (statements: readonly string[], events: readonly NewEvent[]): string {
  const parts = [...statements]
  if (events.length > 0) {
    parts.push(`SELECT append_events(${literal(JSON.stringify(events.map(e => ({ kind: e.kind, serverId: e.serverId, nodeId: e.nodeId, data: e.data, at: e.at }))))}::jsonb)`)
  }
  parts.push('COMMIT')
  return parts.join('; ')
}

/**
 * A string constant in the E'' form, which means the same whatever standard_conforming_strings
 * says: backslashes and quotes doubled. pg's escapeLiteral does the same a character at a time
 * in JavaScript; this is two native passes, which matters for batches of hundreds of rows. It is
 * how values travel in the statements of a multi-statement message (one that has no parameters).
 */
export function literal (text: string): string {
  return `E'${text.replaceAll('\\', '\\\\').replaceAll("'", "''")}'`
}

/** A JSON document as a jsonb constant, for `jsonb_to_recordset` and friends. */
export const jsonb = (value: unknown): string => `${literal(JSON.stringify(value))}::jsonb`

interface EventRow { id: string, kind: NewEvent['kind'], server_id: string | null, node_id: string | null, data: Record<string, unknown>, at: Date }

const toEvent = (r: EventRow): StoredEvent => ({ id: r.id, kind: r.kind, serverId: r.server_id, nodeId: r.node_id, data: r.data, at: r.at })

/** Events after `afterId`, oldest first, at most `limit`. */
export async function readEventsAfter (pool: pg.Pool, afterId: string, limit: number): Promise<StoredEvent[]> {
  const { rows } = await pool.query<EventRow>({
    name: 'events_after',
    text: 'SELECT id::text, kind, server_id, node_id, data, at FROM events WHERE id > $1 ORDER BY events.id LIMIT $2',
    values: [afterId, limit]
  })
  return rows.map(toEvent)
}

/** The last id given out, and the oldest id still kept ('0' when the log is empty). */
export async function eventBounds (pool: pg.Pool): Promise<{ last: string, oldest: string }> {
  const { rows } = await pool.query<{ last: string, oldest: string | null }>({
    name: 'events_bounds',
    text: 'SELECT (SELECT last_id::text FROM event_counter WHERE id = 1) AS last, (SELECT min(id)::text FROM events) AS oldest'
  })
  const row = rows[0] as { last: string, oldest: string | null }
  return { last: row.last, oldest: row.oldest ?? row.last }
}

/**
 * Deletes events that are both older than `keepMs` and outside the newest `keepCount`: the
 * retention is whichever keeps more. Returns how many went.
 */
export async function pruneEvents (pool: pg.Pool, keepCount: number, keepMs: number): Promise<number> {
  const { rowCount } = await pool.query({
    name: 'events_prune',
    text: `DELETE FROM events
           WHERE id <= (SELECT last_id FROM event_counter WHERE id = 1) - $1
             AND at < now() - make_interval(secs => $2::double precision / 1000)`,
    values: [keepCount, keepMs]
  })
  return rowCount ?? 0
}

/**
 * A panel's replay: events in (afterId, upTo] about these servers or nodes, plus the presence of
 * `presenceNodeIds` (nodes of watched servers), oldest first, at most `limit`.
 */
export async function readEventsForPanel (
  pool: pg.Pool, afterId: string, upTo: string, serverIds: string[], nodeIds: string[], presenceNodeIds: string[], limit: number
): Promise<StoredEvent[]> {
  const { rows } = await pool.query<EventRow>({
    name: 'events_for_panel',
    text: `SELECT id::text, kind, server_id, node_id, data, at FROM events
           WHERE id > $1 AND id <= $2
             AND (server_id = ANY($3::uuid[]) OR node_id = ANY($4::uuid[]) OR (kind = 'node.presence' AND node_id = ANY($5::uuid[])))
           ORDER BY events.id LIMIT $6`,
    values: [afterId, upTo, serverIds, nodeIds, presenceNodeIds, limit]
  })
  return rows.map(toEvent)
}
