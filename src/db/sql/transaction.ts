// A transaction on a pooled connection, for the raw-SQL write paths (Prisma has its own).
// Events handed to `emit` are appended to the event log as the transaction commits, in the same
// message as COMMIT (commitMessage), so writers of events never hold the event counter's lock
// across a round trip.
//
// Batch writes that decide in the hub (hello) go in two round trips (inBatchTransaction): BEGIN
// travels with the statement that locks the batch's rows, and the writes travel with the events
// and COMMIT. Every round trip is a wait for the hub's event loop, which console traffic keeps
// busy; the status ingest, which decides in PostgreSQL, takes one (status-batch.ts).
import type pg from 'pg'
import { commitMessage, type NewEvent } from './events.ts'

export type Emit = (events: NewEvent[]) => void

export async function inTransaction<T> (pool: pg.Pool, work: (client: pg.PoolClient, emit: Emit) => Promise<T>): Promise<T> {
  return await transaction(pool, 'BEGIN', async (client, _opened, emit) => await work(client, emit))
}

/** What the work of a batch transaction does besides its result. */
export interface Tx {
  emit: Emit
  /** A statement to send with COMMIT (values inlined, see `literal`), before the events. */
  atCommit (sql: string): void
}

/**
 * `opening` (one statement, values inlined) is sent with BEGIN, and `work` gets its rows;
 * statements given to `atCommit` are sent with the events and COMMIT, in one message.
 */
export async function inBatchTransaction<R extends pg.QueryResultRow, T> (
  pool: pg.Pool, opening: string, work: (rows: R[], tx: Tx) => T
): Promise<T> {
  return await transaction(pool, `BEGIN; ${opening}`, async (_client, opened, emit, atCommit) => work(opened as R[], { emit, atCommit }))
}

async function transaction<T> (
  pool: pg.Pool, begin: string,
  work: (client: pg.PoolClient, opened: unknown[], emit: Emit, atCommit: (sql: string) => void) => Promise<T>
): Promise<T> {
  const client = await pool.connect()
  // A connection whose ROLLBACK failed is broken: destroy it rather than lend it out again.
  let broken: Error | undefined
  try {
    // Several statements in one simple query answer with one result each; BEGIN's has no rows.
    const results = await client.query(begin) as pg.QueryResult | pg.QueryResult[]
    const opened = Array.isArray(results) ? (results[1] as pg.QueryResult).rows : []
    const events: NewEvent[] = []
    const statements: string[] = []
    const result = await work(client, opened, more => { for (const e of more) events.push(e) }, sql => { statements.push(sql) })
    await client.query(commitMessage(statements, events))
    return result
  } catch (err) {
    await client.query('ROLLBACK').catch((e: Error) => { broken = e })
    throw err
  } finally {
    client.release(broken)
  }
}
