// A transaction on a pooled connection, for the raw-SQL write paths (Prisma has its own).
// Events handed to `emit` are appended to the event log as the transaction commits, in the same
// message as COMMIT (commitWithEvents), so writers of events never hold the event counter's lock
// across a round trip.
import type pg from 'pg'
import { commitWithEvents, type NewEvent } from './events.ts'

export type Emit = (events: NewEvent[]) => void

export async function inTransaction<T> (pool: pg.Pool, work: (client: pg.PoolClient, emit: Emit) => Promise<T>): Promise<T> {
  const client = await pool.connect()
  // A connection whose ROLLBACK failed is broken: destroy it rather than lend it out again.
  let broken: Error | undefined
  try {
    await client.query('BEGIN')
    const events: NewEvent[] = []
    const result = await work(client, more => { for (const e of more) events.push(e) })
    await commitWithEvents(client, events)
    return result
  } catch (err) {
    await client.query('ROLLBACK').catch((e: Error) => { broken = e })
    throw err
  } finally {
    client.release(broken)
  }
}
