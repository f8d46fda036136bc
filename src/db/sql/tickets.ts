// Panel tickets (POST /api/ws-ticket): single-use, short-lived, stored hashed. They live in
// PostgreSQL so that a ticket issued by one hub opens a socket on another.
import type pg from 'pg'

export async function createTicket (pool: pg.Pool, tokenHash: string, sessionId: string, expiresAt: Date): Promise<void> {
  await pool.query({
    name: 'ticket_create',
    text: 'INSERT INTO ws_tickets (token_hash, session_id, expires_at) VALUES ($1, $2, $3)',
    values: [tokenHash, sessionId, expiresAt]
  })
}

/**
 * Consumes a ticket: the DELETE makes it single-use even when two hubs race for it (only one
 * DELETE returns the row). Returns its session id, or undefined when the ticket is unknown, used
 * or expired at `now`.
 */
export async function consumeTicket (pool: pg.Pool, tokenHash: string, now: Date): Promise<string | undefined> {
  const { rows } = await pool.query<{ session_id: string, expires_at: Date }>({
    name: 'ticket_consume',
    text: 'DELETE FROM ws_tickets WHERE token_hash = $1 RETURNING session_id, expires_at',
    values: [tokenHash]
  })
  const row = rows[0]
  return row !== undefined && row.expires_at > now ? row.session_id : undefined
}

/** Removes tickets that expired before `before`. */
export async function pruneTickets (pool: pg.Pool, before: Date): Promise<number> {
  const { rowCount } = await pool.query({ name: 'ticket_prune', text: 'DELETE FROM ws_tickets WHERE expires_at < $1', values: [before] })
  return rowCount ?? 0
}
