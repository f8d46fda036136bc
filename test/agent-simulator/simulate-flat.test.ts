// The simulator's own measuring must not degrade as a run goes on (issue 12 item 7): its panels,
// its action driver and the once-a-second progress line share the main thread, so any per-second
// work that grows with the run's history delays the panels' reads and inflates the latencies they
// measure. The progress line read every second's percentiles (series()) to show the newest one,
// and the action driver walked every action ever posted to find the pending ones: both grew with
// the run. These tests hold the per-second work flat under a steady load, by comparing its cost
// early in a run with its cost after a long one (a growing cost shows as a ratio of hundreds,
// far above the noise of a shared machine).
import t from 'tap'
import { createActionLedger } from '../../agent-simulator/cli/action-ledger.ts'
import { createAggregator, encodeHistogram, newHistogram, recordMs, zeroCounters } from '../../agent-simulator/cli/stats.ts'

const START = Date.parse('2025-01-01T00:00:00Z')

/** The fastest of `repeats` timings of fn, in ms (the minimum filters out a busy machine's pauses). */
function fastest (fn: () => void, repeats = 7): number {
  let best = Infinity
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now()
    fn()
    best = Math.min(best, performance.now() - t0)
  }
  return best
}

/** One second of steady load: a worker's sample with 2,000 status→ack latencies and a panel driver's. */
function second (agg: ReturnType<typeof createAggregator>, s: number, encoded: string): void {
  agg.add({ worker: 0, at: START + s * 1000 + 10, connected: 500, errors: {}, counters: { ...zeroCounters(), transitions: 2000, acks: 2000 }, histograms: { statusAck: encoded }, p99Ms: { statusAck: 30 + (s % 2) }, cpuUserUs: 0, cpuSystemUs: 0 })
  const h = newHistogram()
  for (let i = 1; i <= 500; i++) recordMs(h, 1 + (i % 50))
  agg.addDriver(START + s * 1000 + 20, { counters: { events: 500 }, histograms: { statusEvent: h } })
}

t.test('the live progress figure costs the same after 10 seconds as after 70', async t => {
  const h = newHistogram()
  for (let i = 1; i <= 500; i++) recordMs(h, (i % 97) / 3 + 0.2)
  const encoded = encodeHistogram(h)
  const agg = createAggregator()
  for (let s = 0; s < 10; s++) second(agg, s, encoded)
  const early = fastest(() => agg.latestP99('statusAck'))
  const earlyP99 = agg.latestP99('statusAck')
  for (let s = 10; s < 70; s++) second(agg, s, encoded)
  const late = fastest(() => agg.latestP99('statusAck'))
  t.equal(agg.latestP99('statusAck'), earlyP99, 'the same steady load gives the same figure')
  t.equal(earlyP99, 30 + (9 % 2), "the newest second's, as the worker computed it")
  t.ok(late < Math.max(early * 5, 2), `the newest second's p99 costs ${late.toFixed(3)} ms after 70 s, ${early.toFixed(3)} ms after 10 s`)
})

t.test('finding the pending actions costs the same after 100 actions as after 20,000', async t => {
  const ledger = createActionLedger()
  let n = 0
  const post = (count: number) => {
    for (let i = 0; i < count; i++, n++) {
      const id = `a${n}`
      ledger.accepted(id, 's', 'START', 0)
      // Steady state: all but the newest 50 have finished.
      if (n >= 50) ledger.observed(`a${n - 50}`, { state: 'SUCCEEDED', completedAt: new Date(1).toISOString(), errorCode: null })
    }
  }
  post(100)
  const early = fastest(() => ledger.pending(200))
  t.equal(ledger.pendingCount, 50)
  post(20_000)
  const late = fastest(() => ledger.pending(200))
  t.equal(ledger.pendingCount, 50)
  t.same(ledger.pending(3), [`a${n - 50}`, `a${n - 49}`, `a${n - 48}`], 'oldest first')
  t.ok(late < Math.max(early * 5, 1), `pending() costs ${late.toFixed(3)} ms with 20,100 actions, ${early.toFixed(3)} ms with 100`)
})
