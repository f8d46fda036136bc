// Reads for the operations metrics (/metrics, src/hub/operations-metrics.ts): cheap, indexed,
// run at scrape time.
import type pg from 'pg'

export interface OperationsSnapshot {
  /** The newest committed event id (event_counter), as text (bigint). */
  lastEventId: string
  /** Live actions (those with a deadline: QUEUED, DISPATCHED, ACKED) by state. */
  live: Array<{ state: string, n: number }>
  /** Actions that finished within `recentS` seconds, by state and error code ('' when none). */
  finished: Array<{ state: string, code: string, n: number }>
}

export async function readOperations (pool: pg.Pool, recentS: number): Promise<OperationsSnapshot> {
  const [counter, live, finished] = await Promise.all([
    pool.query<{ last: string }>({ name: 'ops_last_event', text: 'SELECT last_id::text AS last FROM event_counter WHERE id = 1' }),
    // deadline_at is set exactly while an action is live, and has a partial index.
    pool.query<{ state: string, n: number }>({
      name: 'ops_live_actions',
      text: 'SELECT state::text, count(*)::int AS n FROM server_actions WHERE deadline_at IS NOT NULL GROUP BY state'
    }),
    pool.query<{ state: string, code: string, n: number }>({
      name: 'ops_finished_actions',
      text: `SELECT state::text, coalesce(error_code, '') AS code, count(*)::int AS n FROM server_actions
             WHERE completed_at > now() - make_interval(secs => $1) GROUP BY 1, 2`,
      values: [recentS]
    })
  ])
  return { lastEventId: counter.rows[0]?.last ?? '0', live: live.rows, finished: finished.rows }
}
