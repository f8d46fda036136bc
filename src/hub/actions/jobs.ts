// The pg-boss queues of the hub and their payloads: the one place that names them.
//
// One job per ServerAction, in one queue, with the action's id as the job's id. The job is created
// in the transaction that creates the action and settled in the transaction that makes the action
// final (completed for SUCCEEDED, failed for FAILED and EXPIRED, cancelled for CANCELLED), so the
// queue and the table never disagree about which actions are still open. Delivery does not go
// through pg-boss's fetch: see docs/architecture.md, "Power actions", for why.
import type pg from 'pg'
import type { Db } from 'pg-boss'
import type { ActionType } from '../../db/sql/actions.ts'

export const ACTION_QUEUE = 'server-action'

/** The data of an ACTION_QUEUE job. */
export interface ActionJob {
  actionId: string
  serverId: string
  nodeId: string
  action: ActionType
  /** ISO time: the delivery deadline. */
  expiresAt: string
}

// pg-boss builds the text of a statement for each call (the same text for the same queue and
// options). Named, PostgreSQL parses and plans it once per connection instead of on every call:
// on these machines named statements nearly doubled transaction throughput. A statement with
// parameters is always a single statement (the extended protocol allows no more), so it can be
// prepared; a parameterless text may hold several statements and stays unnamed. Each text keeps
// its name for the life of the process, so one name never meets two texts on a connection.
const names = new Map<string, string>()
const MAX_NAMES = 500

function statementName (text: string): string | undefined {
  let name = names.get(text)
  if (name === undefined && names.size < MAX_NAMES) {
    name = `pgboss_${names.size}`
    names.set(text, name)
  }
  return name
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
    executeSql: async (text, values) => {
      const name = values !== undefined && values.length > 0 ? statementName(text) : undefined
      const query = name === undefined ? { text, values: values as unknown[] | undefined } : { name, text, values: values as unknown[] }
      return await client.query(query) as unknown as { rows: unknown[] }
    }
  }
}
