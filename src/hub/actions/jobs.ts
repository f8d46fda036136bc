// The pg-boss queues of the hub and their payloads: the one place that names them.
//
// One job per ServerAction, in one queue, with the action's id as the job's id: its deadline job.
// It is created in the transaction that creates the action, due (`startAfter`) when the action's
// current state times out, and settled in the transaction that makes the action final (completed
// with the final state as output, or cancelled), so the queue and the table never disagree about
// which actions are still open. Every hub works the queue (plugins/actions.ts): a job that comes
// due ends its action with the guarded UPDATE, or, when the action moved on (acked: a run deadline
// now), is deleted and inserted again, same id, due at the next deadline. Delivery does not go
// through pg-boss's fetch: see docs/architecture.md, "Power actions", for why.
import type pg from 'pg'
import type { Db } from 'pg-boss'
import type { ActionType } from '../../db/sql/actions.ts'

export const ACTION_QUEUE = 'server-action'
export const ACTION_QUEUE_OPTIONS = {
  retryLimit: 5,
  retryDelay: 1,
  retryBackoff: true,
  retryDelayMax: 60,
  // The work is one short transaction: a claim older than this belonged to a hub that died.
  expireInSeconds: 60,
  retentionSeconds: 7 * 86_400,
  deleteAfterSeconds: 86_400
}
/**
 * How often each hub's worker looks for due deadline jobs (pg-boss's smallest interval): a timeout
 * ends up to this much late. LISTEN/NOTIFY would not help: pg-boss notifies when a job is inserted,
 * and a deadline job is inserted long before it is due (and a NOTIFY in every creating transaction
 * would halve the commit ceiling, ENVIRONMENT.md).
 */
export const DEADLINE_POLL_S = 0.5
/** Due jobs one hub takes per fetch (one transaction ends or reschedules them all). */
export const DEADLINE_BATCH = 200

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
