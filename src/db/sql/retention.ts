// The retention prunes that have no home elsewhere (events: events.ts; tickets: tickets.ts;
// sessions: the session repository). Each deletes in batches, so a first prune over years of
// rows never holds one huge transaction (or its locks) for minutes, and returns how many went.
import type pg from 'pg'

const BATCH = 5_000

async function inBatches (pool: pg.Pool, name: string, text: string, before: Date): Promise<number> {
  let total = 0
  for (;;) {
    const { rowCount } = await pool.query({ name, text, values: [before, BATCH] })
    total += rowCount ?? 0
    if ((rowCount ?? 0) < BATCH) return total
  }
}

/** Status transitions recorded before `before`. */
export async function pruneTransitions (pool: pg.Pool, before: Date): Promise<number> {
  return await inBatches(pool, 'retention_transitions', `DELETE FROM server_status_transitions WHERE id IN (
      SELECT id FROM server_status_transitions WHERE at < $1 LIMIT $2)`, before)
}

/** Actions in a final state that finished before `before` (the audit trail: see the README's retention). Live ones are never touched. */
export async function pruneFinishedActions (pool: pg.Pool, before: Date): Promise<number> {
  return await inBatches(pool, 'retention_actions', `DELETE FROM server_actions WHERE id IN (
      SELECT id FROM server_actions
       WHERE completed_at < $1 AND state IN ('SUCCEEDED', 'FAILED', 'EXPIRED', 'CANCELLED') LIMIT $2)`, before)
}
