// The pg-boss queues of the hub and their payloads: the one place that names them.
//
// One job per ServerAction, in one queue, with the action's id as the job's id. The job is created
// in the transaction that creates the action and settled in the transaction that makes the action
// final (completed for SUCCEEDED, failed for FAILED and EXPIRED, cancelled for CANCELLED), so the
// queue and the table never disagree about which actions are still open. Delivery does not go
// through pg-boss's fetch: see docs/architecture.md, "Power actions", for why.
import type pg from 'pg'
import type { Db } from 'pg-boss'

export const ACTION_QUEUE = 'server-action'

/** The data of an ACTION_QUEUE job. */
export interface ActionJob {
  actionId: string
  serverId: string
  nodeId: string
  action: 'START' | 'STOP' | 'RESTART' | 'KILL'
  /** ISO time: the delivery deadline. */
  expiresAt: string
}

/**
 * pg-boss statements on a connection that is inside our own transaction (pg-boss's `db` option),
 * so a job commits or rolls back with the rows written beside it. Used instead of
 * `fromPrisma(tx)` because the action writes are raw, batched SQL on a pg client.
 */
export function onClient (client: pg.PoolClient | pg.Pool): Db {
  return {
    // The raw result, as pg-boss's own adapter returns it: a multi-statement text yields an array
    // of results, and pg-boss reads the rows of each.
    executeSql: async (text, values) => await client.query(text, values as unknown[] | undefined) as unknown as { rows: unknown[] }
  }
}
