// A transaction on a pooled connection, for the raw-SQL write paths (Prisma has its own).
import type pg from 'pg'

/** Connections whose transaction `commitWith` already ended. */
const committed = new WeakSet<pg.PoolClient>()

export async function inTransaction<T> (pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect()
  // A connection whose ROLLBACK failed is broken: destroy it rather than lend it out again.
  let broken: Error | undefined
  try {
    await client.query('BEGIN')
    const result = await work(client)
    if (!committed.delete(client)) await client.query('COMMIT')
    return result
  } catch (err) {
    committed.delete(client)
    await client.query('ROLLBACK').catch((e: Error) => { broken = e })
    throw err
  } finally {
    client.release(broken)
  }
}

/**
 * Ends the transaction of `inTransaction` with `last`, the statement `work` just issued (not yet
 * awaited): COMMIT is written right behind it on the pool's pipelined connection (database.ts), so
 * PostgreSQL commits as soon as that statement is done instead of a round trip later. This matters
 * for the statement that bumps the event counter (appendEvents): its row lock is held until commit,
 * and every event writer queues on it, so a round trip there (one wake-up of this process, slow on
 * a loaded machine) is paid once per transaction by all of them in series.
 *
 * Safe on failure: when `last` fails, PostgreSQL has aborted the transaction and answers the
 * pipelined COMMIT with ROLLBACK; that is checked, and the error is thrown as usual. It must be the
 * last thing `work` does: once it returns, the transaction has committed.
 */
export async function commitWith<T> (client: pg.PoolClient, last: Promise<T>): Promise<T> {
  const commit = client.query('COMMIT')
  // Both are awaited below; these keep an early rejection of one from going unhandled.
  commit.catch(() => {})
  last.catch(() => {})
  const result = await last
  const { command } = await commit
  if (command !== 'COMMIT') throw new Error(`transaction not committed (${command})`)
  committed.add(client)
  return result
}
