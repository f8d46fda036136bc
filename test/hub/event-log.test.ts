// The event log and its feed, against a real PostgreSQL: ids in commit order without holes under
// concurrent writers, delivery to every feed (several hubs), catch-up after the LISTEN
// connection dies, gaps reported when events were pruned unread, and the retention rule.
import type pg from 'pg'
import t, { type Test } from 'tap'
import { createDatabase, type Database } from '../../src/db/database.ts'
import { pruneEvents, readEventsForPanel, type NewEvent } from '../../src/db/sql/events.ts'
import { inBatchTransaction, inTransaction } from '../../src/db/sql/transaction.ts'
import { createLocalBus, type HubEvent } from '../../src/hub/bus.ts'
import { createEventFeed } from '../../src/hub/event-feed.ts'
import { createTestDatabase } from '../helpers/database.ts'

const silent = { warn () {}, error () {} }
const SERVER = '00000000-0000-4000-8000-000000000001'
const OTHER = '00000000-0000-4000-8000-000000000002'

async function openDatabase (t: Test): Promise<Database> {
  const { url } = await createTestDatabase(t)
  const db = createDatabase({ url, poolMax: 8, connectTimeoutMs: 5_000, idleTimeoutMs: 10_000, statementTimeoutMs: 10_000, log: silent })
  t.teardown(() => db.close())
  return db
}

/** The append itself, in the caller's transaction, for tests that act between it and COMMIT. */
const appendRaw = async (client: pg.PoolClient, events: NewEvent[]) =>
  await client.query('SELECT append_events($1::jsonb)', [JSON.stringify(events)])

const event = (n: number, serverId = SERVER): NewEvent =>
  ({ kind: 'server.status', serverId, nodeId: null, data: { n }, at: new Date() })

/** A feed on its own bus; `until(n)` waits (5 s at most) for n events in all. */
async function startFeed (t: Test, db: Database, options: { pollMs?: number } = {}) {
  const bus = createLocalBus()
  const seen: HubEvent[] = []
  let gaps = 0
  const waiters: Array<() => void> = []
  bus.subscribe(events => { seen.push(...events); waiters.splice(0).forEach(w => w()) }, () => { gaps++ })
  const feed = createEventFeed({ pool: db.pool, connect: () => db.dedicatedClient('hub-events-test'), bus, log: silent, batch: 50, ...options })
  await feed.start()
  t.teardown(() => feed.stop())
  const until = async (n: number) => {
    const deadline = Date.now() + 5_000
    while (seen.length < n) {
      if (Date.now() > deadline) throw new Error(`saw ${seen.length} of ${n} events within 5 s`)
      await new Promise<void>(resolve => { waiters.push(resolve); setTimeout(resolve, 100) })
    }
  }
  return { feed, seen, until, gaps: () => gaps }
}

t.test('concurrent writers: ids are consecutive, in commit order, each delivered once', async t => {
  const db = await openDatabase(t)
  const a = await startFeed(t, db)
  const b = await startFeed(t, db) // a second hub's feed on the same database
  // 8 connections append at once, in transactions that stay open a little while.
  const writers = Array.from({ length: 8 }, async (_, w) => {
    for (let i = 0; i < 25; i++) {
      await inTransaction(db.pool, async (client, emit) => {
        await client.query('SELECT pg_sleep(0.001)')
        emit([event(w * 100 + i), event(w * 100 + i, OTHER)])
      })
    }
  })
  await Promise.all(writers)
  await a.until(400)
  await b.until(400)
  const ids = a.seen.map(e => Number(e.id))
  t.same(ids, Array.from({ length: 400 }, (_, i) => i + 1), 'ids 1..400 with no hole and no repeat')
  t.same(b.seen.map(e => e.id), a.seen.map(e => e.id), 'the other feed saw the same sequence')
  t.equal(a.gaps(), 0)
  t.equal(a.feed.lastId(), '400')

  const forOther = await readEventsForPanel(db.pool, '0', '400', [OTHER], [], [], 1_000)
  t.equal(forOther.length, 200, 'readEventsForPanel filters by server')
  t.ok(forOther.every(e => e.serverId === OTHER))
})

t.test('a rolled-back transaction leaves no hole', async t => {
  const db = await openDatabase(t)
  const feed = await startFeed(t, db)
  await t.rejects(inTransaction(db.pool, async client => {
    await appendRaw(client, [event(1)]) // the counter is bumped, then the transaction fails
    throw new Error('abort')
  }))
  await inTransaction(db.pool, async (_client, emit) => { emit([event(2)]) })
  await feed.until(1)
  t.equal(feed.seen[0]?.id, '1', 'the id of the rolled-back event is given out again')
  t.same(feed.seen[0]?.data, { n: 2 })
})

t.test('the feed catches up after its connection is killed', async t => {
  const db = await openDatabase(t)
  const feed = await startFeed(t, db, { pollMs: 60_000 })
  await inTransaction(db.pool, async (_client, emit) => { emit([event(1)]) })
  await feed.until(1)
  const { rows } = await db.pool.query("SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity WHERE application_name = 'hub-events-test' AND datname = current_database()")
  t.equal(rows.length, 1, 'the LISTEN connection was killed')
  // Committed while the feed is cut off: no notification reaches it; the redial's catch-up must.
  await inTransaction(db.pool, async (_client, emit) => { emit([event(2), event(3)]) })
  await feed.until(3)
  t.same(feed.seen.map(e => e.id), ['1', '2', '3'])
})

t.test('events pruned before the feed read them are reported as a gap', async t => {
  const db = await openDatabase(t)
  const feed = await startFeed(t, db)
  await inTransaction(db.pool, async client => {
    await appendRaw(client, [event(1), event(2), event(3)])
    await client.query('DELETE FROM events WHERE id = 1')
  })
  await feed.until(2)
  t.equal(feed.gaps(), 1)
  t.same(feed.seen.map(e => e.id), ['2', '3'])
})

t.test('retention keeps whichever is more: the newest N or everything younger than T', async t => {
  const db = await openDatabase(t)
  await inTransaction(db.pool, async (_client, emit) => { emit(Array.from({ length: 10 }, (_, i) => event(i))) })
  t.equal(await pruneEvents(db.pool, 3, 60_000), 0, 'young events stay even beyond the count')
  await db.pool.query("UPDATE events SET at = now() - interval '2 minutes' WHERE id <= 8")
  t.equal(await pruneEvents(db.pool, 3, 60_000), 7, 'old events outside the newest 3 go')
  const { rows } = await db.pool.query<{ id: string }>('SELECT id::text FROM events ORDER BY events.id')
  t.same(rows.map(r => r.id), ['8', '9', '10'], 'the newest 3 stay, old as one of them is')
})

t.test('a transaction that emits nothing appends nothing', async t => {
  const db = await openDatabase(t)
  await inTransaction(db.pool, async (_client, emit) => { emit([]) })
  t.equal((await db.pool.query('SELECT count(*)::int AS n FROM events')).rows[0]?.n, 0)
  const { rows } = await db.pool.query<{ last_id: string }>('SELECT last_id::text FROM event_counter')
  t.equal(rows[0]?.last_id, '0')
})

t.test('events emitted in a transaction commit with it, hostile text intact (no injection through the literal)', async t => {
  const db = await openDatabase(t)
  const feed = await startFeed(t, db)
  const hostile = "it's a \\'; DROP TABLE events; -- $$ \" \\x00 é 🎮\nnew line"
  await inTransaction(db.pool, async (_client, emit) => { emit([{ ...event(1), data: { reason: hostile } }, event(2)]) })
  await feed.until(2)
  t.same(feed.seen.map(e => e.id), ['1', '2'])
  t.equal(feed.seen[0]?.data.reason, hostile, 'the text comes back byte for byte')
  await t.rejects(inTransaction(db.pool, async (_client, emit) => {
    emit([event(3)])
    throw new Error('abort')
  }))
  await inTransaction(db.pool, async (_client, emit) => { emit([event(4)]) })
  await feed.until(3)
  t.same(feed.seen[2]?.data, { n: 4 }, 'events of a failed transaction are never written')
})

t.test('a batch transaction: the opening statement rides with BEGIN, the writes with the events and COMMIT; a failing write undoes all', async t => {
  const db = await openDatabase(t)
  const feed = await startFeed(t, db)
  await db.pool.query('CREATE TABLE notes (n int CHECK (n < 10))')
  const opened = await inBatchTransaction<{ one: number }, number>(db.pool, 'SELECT 1 AS one', (rows, tx) => {
    tx.atCommit('INSERT INTO notes VALUES (1)')
    tx.emit([event(1)])
    return rows[0]?.one ?? 0
  })
  t.equal(opened, 1, 'the work got the rows of the statement sent with BEGIN')
  await feed.until(1)
  await t.rejects(inBatchTransaction(db.pool, 'SELECT 1', (_rows, tx) => {
    tx.atCommit('INSERT INTO notes VALUES (2)')
    tx.atCommit('INSERT INTO notes VALUES (99)') // the CHECK refuses it: the message stops here
    tx.emit([event(2)])
  }), { code: '23514' })
  await t.rejects(inBatchTransaction(db.pool, 'SELECT 1/0', () => {}), { code: '22012' }, 'a failing opening statement rolls back too')
  await inTransaction(db.pool, async (_client, emit) => { emit([event(3)]) })
  await feed.until(2)
  t.same((await db.pool.query('SELECT n FROM notes ORDER BY n')).rows, [{ n: 1 }], 'only the first batch wrote')
  t.same(feed.seen.map(e => e.data), [{ n: 1 }, { n: 3 }], 'and only its event (and the later one) exists')
})
