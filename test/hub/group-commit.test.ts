// createGroupCommit's isolation (bisecting a refused batch), without a database: the commit
// function is a plain async function that refuses any batch holding a poisoned item, as
// PostgreSQL refuses a transaction with one bad row. The database case: ingest-failure.test.ts.
import t from 'tap'
import { createGroupCommit } from '../../src/hub/group-commit.ts'

interface Item { key: string, n: number, poison?: boolean }
type Result = 'ok' | 'unstorable' | 'internal'

class DataError extends Error { code = '22007' }
class TransientError extends Error { code = '08006' }

function harness (refuse: (batch: Item[]) => Error | null) {
  const committed: Item[] = []
  let transactions = 0
  const gc = createGroupCommit<Item, Result>({
    commit: async batch => {
      transactions++
      const err = refuse(batch)
      if (err !== null) throw err
      committed.push(...batch)
      return batch.map(() => 'ok')
    },
    fail: () => 'internal',
    isolate: {
      isItemFault: err => err instanceof DataError,
      unstorable: () => 'unstorable',
      keyOf: item => item.key
    }
  })
  return { gc, committed, transactions: () => transactions }
}

const poisoned = (batch: Item[]) => batch.some(i => i.poison === true) ? new DataError('bad row') : null

t.test('one poisoned item among 100: the 100 commit, it alone is unstorable', async t => {
  const h = harness(poisoned)
  const items: Item[] = Array.from({ length: 101 }, (_, n) => ({ key: `k${n}`, n, poison: n === 37 }))
  const results = await Promise.all(items.map(async i => await h.gc.submit(i)))
  t.equal(results.filter(r => r === 'ok').length, 100)
  t.equal(results[37], 'unstorable')
  t.equal(h.committed.length, 100)
  t.ok(h.transactions() <= 1 + 2 * Math.ceil(Math.log2(101)), `bisecting costs ${h.transactions()} transactions, about 2 log2 n`)
})

t.test('a key\'s later items fail with its unstorable one, untried; its earlier ones commit', async t => {
  const h = harness(poisoned)
  const items: Item[] = [
    { key: 'a', n: 1 }, { key: 'b', n: 1 }, { key: 'a', n: 2, poison: true }, { key: 'c', n: 1 },
    { key: 'a', n: 3 }, { key: 'b', n: 2 }, { key: 'a', n: 4 }
  ]
  const results = await Promise.all(items.map(async i => await h.gc.submit(i)))
  t.strictSame(results, ['ok', 'ok', 'unstorable', 'ok', 'unstorable', 'ok', 'unstorable'])
  t.strictSame(h.committed.filter(i => i.key === 'a').map(i => i.n), [1], 'a3 and a4 never committed after a2 failed')
  t.strictSame(h.committed.filter(i => i.key === 'b').map(i => i.n), [1, 2], 'other keys in order')
})

t.test('a transient failure is not bisected: the whole batch fails, once', async t => {
  const h = harness(() => new TransientError('connection lost'))
  const results = await Promise.all(Array.from({ length: 50 }, async (_, n) => await h.gc.submit({ key: `k${n}`, n })))
  t.ok(results.every(r => r === 'internal'))
  t.equal(h.transactions(), 1)
})

t.test('without isolation a failed batch fails as a whole (the other group commits)', async t => {
  const gc = createGroupCommit<Item, Result>({
    commit: async batch => { if (poisoned(batch) !== null) throw new DataError('bad row'); return batch.map(() => 'ok') },
    fail: () => 'internal'
  })
  const results = await Promise.all([{ key: 'a', n: 1, poison: true }, { key: 'b', n: 1 }].map(async i => await gc.submit(i)))
  t.strictSame(results, ['internal', 'internal'])
})
