import t from 'tap'
import { DEFAULT_BACKOFF, backoffDelay } from '../../agent-simulator/backoff.ts'

t.test('the ceiling doubles per attempt up to maxMs; the delay is random() x ceiling', async (t) => {
  const opts = { baseMs: 100, maxMs: 1_000 }
  t.strictSame([0, 1, 2, 3, 4, 5].map((a) => backoffDelay(a, opts, () => 0.5)), [50, 100, 200, 400, 500, 500])
  t.equal(backoffDelay(3, opts, () => 0), 0, 'full jitter reaches down to 0')
})

t.test('huge attempt counts stay finite, even with baseMs 0', async (t) => {
  t.equal(backoffDelay(5_000, { baseMs: 10, maxMs: 30_000 }, () => 0.5), 15_000)
  t.equal(backoffDelay(5_000, { baseMs: 0, maxMs: 30_000 }, () => 0.5), 0)
})

t.test('Math.random by default, within bounds', async (t) => {
  for (let attempt = 0; attempt < 20; attempt++) {
    const delay = backoffDelay(attempt, DEFAULT_BACKOFF)
    t.ok(delay >= 0 && delay < Math.min(DEFAULT_BACKOFF.maxMs, DEFAULT_BACKOFF.baseMs * 2 ** attempt), `attempt ${attempt}`)
  }
})
