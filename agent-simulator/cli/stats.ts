/**
 * Counters and latency histograms: recorded in workers, shipped to the main thread once a second,
 * merged there into totals and a per-second time series.
 *
 * Latencies go into HdrHistograms (hdr-histogram-js, plain JS mode: the wasm mode buys nothing at
 * these rates) in microseconds with 3 significant digits, so a p99 of 0.8 ms and one of 8 s are
 * both exact to 0.1 %. Workers send the histogram of each interval encoded (compressed base64) and
 * start a fresh one; merging decoded histograms gives exact percentiles across threads, which
 * averaging per-worker percentiles would not.
 */
import * as hdr from 'hdr-histogram-js'

export type Histogram = hdr.Histogram

/** Every latency the simulator measures: status→ack by the agents, the others by the panel and action drivers. */
export const LATENCIES = ['statusAck', 'statusEvent', 'actionCommand', 'actionSucceeded', 'consoleLine', 'consoleLineCrossHub'] as const
export type LatencyName = typeof LATENCIES[number]

export const LATENCY_TITLES: Record<LatencyName, string> = {
  statusAck: 'status → status.ack',
  statusEvent: 'status → panel event',
  actionCommand: 'action POST → command at the agent',
  actionSucceeded: 'action POST → SUCCEEDED',
  consoleLine: 'console line agent → panel (panel on the agents\' hub)',
  consoleLineCrossHub: 'console line agent → panel on another hub (--panel-hubs)'
}

export const COUNTERS = [
  'transitions', 'acks', 'ackTimeouts', 'errorFrames', 'rejected', 'skipped', 'commands',
  'reconnects', 'drops', 'restarts', 'connectFailures', 'consoleLinesSent', 'statsSent'
] as const
export type CounterName = typeof COUNTERS[number]
export type Counters = Record<CounterName, number>

/** What a worker sends every interval: deltas since its previous sample. */
export interface WorkerSample {
  worker: number
  /** Date.now() when taken: the one clock all threads share. */
  at: number
  connected: number
  counters: Counters
  /** Error codes seen (hub error frames and client failures), with counts. */
  errors: Record<string, number>
  /** Encoded histograms of this interval, by latency name; absent when nothing was recorded. */
  histograms: Partial<Record<LatencyName, string>>
  /** CPU time of the worker thread so far, in µs (cumulative). */
  cpuUserUs: number
  cpuSystemUs: number
  /** This interval's p99 per latency in ms, computed by the worker (for the live progress line only). */
  p99Ms?: Partial<Record<LatencyName, number>>
  /** Commands agents received in this interval: [commandId, epoch ms]. */
  commandsSeen?: Array<[string, number]>
}

export function newHistogram (): Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 300_000_000, numberOfSignificantValueDigits: 3, bitBucketSize: 'packed' })
}

/** Records a latency given in milliseconds (fractional) as microseconds. */
export function recordMs (h: Histogram, ms: number): void {
  h.recordValue(Math.min(300_000_000, Math.max(1, Math.round(ms * 1000))))
}

export function zeroCounters (): Counters {
  return Object.fromEntries(COUNTERS.map((c) => [c, 0])) as Counters
}

export function encodeHistogram (h: Histogram): string {
  return hdr.encodeIntoCompressedBase64(h)
}

export function decodeHistogram (encoded: string): Histogram {
  return hdr.decodeFromCompressedBase64(encoded, 'packed')
}

export interface Percentiles {
  count: number
  minMs: number
  meanMs: number
  p50Ms: number
  p90Ms: number
  p99Ms: number
  p999Ms: number
  maxMs: number
}

export function percentiles (h: Histogram): Percentiles {
  const ms = (us: number) => Math.round(us) / 1000
  if (h.totalCount === 0) return { count: 0, minMs: 0, meanMs: 0, p50Ms: 0, p90Ms: 0, p99Ms: 0, p999Ms: 0, maxMs: 0 }
  return {
    count: h.totalCount,
    minMs: ms(h.minNonZeroValue),
    meanMs: ms(h.mean),
    p50Ms: ms(h.getValueAtPercentile(50)),
    p90Ms: ms(h.getValueAtPercentile(90)),
    p99Ms: ms(h.getValueAtPercentile(99)),
    p999Ms: ms(h.getValueAtPercentile(99.9)),
    maxMs: ms(h.maxValue)
  }
}

/**
 * A bar histogram for plotting: log-spaced buckets (upper bound in ms) with their share of the
 * observations. hdr-histogram-js exposes no per-value counts in its public interface, so the
 * shares come from its quantiles at every 0.5 %: exact enough for a picture, while every figure
 * in the report comes from the histogram itself.
 */
export function buckets (h: Histogram, perDecade = 10): Array<{ upToMs: number, share: number }> {
  if (h.totalCount === 0) return []
  // Every 0.5 %: each quantile walks the packed histogram, and 1,001 of them made a report take
  // about a second per latency; 201 draw the same picture.
  const values: number[] = []
  for (let i = 0; i <= 200; i++) values.push(h.getValueAtPercentile(i / 2) / 1000)
  const lo = Math.floor(Math.log10(Math.max(values[0] as number, 0.001)) * perDecade)
  const hi = Math.ceil(Math.log10(Math.max(values[200] as number, 0.001)) * perDecade) + 1
  const out: Array<{ upToMs: number, share: number }> = []
  for (let k = lo + 1; k <= hi; k++) out.push({ upToMs: 10 ** (k / perDecade), share: 0 })
  for (const v of values) {
    const bucket = out.find((b) => v <= b.upToMs) ?? out[out.length - 1]
    if (bucket !== undefined) bucket.share += 1 / values.length
  }
  return out
}

/** The classic HdrHistogram plot: latency at each percentile, for percentiles up to 99.999. */
export function percentileCurve (h: Histogram): Array<{ percentile: number, ms: number }> {
  if (h.totalCount === 0) return []
  const ps = [0, 10, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 99.95, 99.99, 99.999, 100]
  return ps.map((percentile) => ({ percentile, ms: h.getValueAtPercentile(percentile) / 1000 }))
}

/** One second of the run, all workers merged. */
export interface SecondStats {
  /** Seconds since the load phase started (negative while agents connect). */
  t: number
  connected: number
  counters: Counters
  /** The load drivers' counters (panel events, actions posted, ...), when any ran. */
  driver: Record<string, number>
  latency: Partial<Record<LatencyName, Percentiles>>
}

/** Merges worker samples into totals and one entry per second. Pure bookkeeping: no timers. */
export function createAggregator () {
  const totals = zeroCounters()
  const errors: Record<string, number> = {}
  const overall = Object.fromEntries(LATENCIES.map((n) => [n, newHistogram()])) as Record<LatencyName, Histogram>
  const driverTotals: Record<string, number> = {}
  type Bin = { counters: Counters, driver: Record<string, number>, connected: Map<number, number>, hist: Partial<Record<LatencyName, Histogram>> }
  const seconds = new Map<number, Bin>()
  let newest: Bin | undefined
  let newestT = -Infinity
  const binAt = (at: number): Bin => {
    // Binned by wall-clock second; series() makes them relative once the load's start is known.
    const t = Math.floor(at / 1000)
    let bin = seconds.get(t)
    if (bin === undefined) seconds.set(t, bin = { counters: zeroCounters(), driver: {}, connected: new Map(), hist: {} })
    if (t >= newestT) { newestT = t; newest = bin }
    return bin
  }
  const addHistogram = (bin: Bin, name: LatencyName, h: Histogram) => {
    overall[name].add(h)
    const binHist = (bin.hist[name] ??= newHistogram())
    binHist.add(h)
  }
  // The newest second's p99 per latency for the live progress line: the largest of the workers'
  // own p99s of their interval (computed in the worker, so the main thread pays nothing).
  const recent = new Map<LatencyName, { t: number, ms: number }>()
  const connected = new Map<number, number>()
  const cpu = new Map<number, { userUs: number, systemUs: number }>()

  function add (s: WorkerSample): void {
    const bin = binAt(s.at)
    for (const c of COUNTERS) {
      totals[c] += s.counters[c]
      bin.counters[c] += s.counters[c]
    }
    for (const [code, n] of Object.entries(s.errors)) errors[code] = (errors[code] ?? 0) + n
    for (const name of LATENCIES) {
      const encoded = s.histograms[name]
      if (encoded === undefined) continue
      addHistogram(bin, name, decodeHistogram(encoded))
    }
    if (bin === newest) {
      for (const [name, ms] of Object.entries(s.p99Ms ?? {}) as Array<[LatencyName, number]>) {
        const r = recent.get(name)
        if (r === undefined || r.t !== newestT) recent.set(name, { t: newestT, ms })
        else r.ms = Math.max(r.ms, ms)
      }
    }
    bin.connected.set(s.worker, s.connected)
    connected.set(s.worker, s.connected)
    cpu.set(s.worker, { userUs: s.cpuUserUs, systemUs: s.cpuSystemUs })
  }

  /** A load driver's sample (main thread: histograms as they are, counters by name). */
  function addDriver (at: number, sample: { counters: Record<string, number>, histograms: Partial<Record<LatencyName, Histogram>> }): void {
    const bin = binAt(at)
    for (const [k, n] of Object.entries(sample.counters)) {
      // Gauges (names ending in "Pending") are the latest value, not a sum.
      if (k.endsWith('Pending')) { bin.driver[k] = n; driverTotals[k] = n; continue }
      bin.driver[k] = (bin.driver[k] ?? 0) + n
      driverTotals[k] = (driverTotals[k] ?? 0) + n
    }
    for (const [name, h] of Object.entries(sample.histograms)) if (h !== undefined) addHistogram(bin, name as LatencyName, h)
  }

  function series (startedAt: number): SecondStats[] {
    const base = Math.floor(startedAt / 1000)
    return [...seconds.entries()].sort((a, b) => a[0] - b[0]).map(([t, bin]) => ({
      t: t - base,
      connected: [...bin.connected.values()].reduce((a, b) => a + b, 0),
      counters: bin.counters,
      driver: bin.driver,
      latency: Object.fromEntries(Object.entries(bin.hist).map(([n, h]) => [n, percentiles(h)]))
    }))
  }

  /**
   * The newest second's p99 of one latency (the workers' largest), in ms, for the live progress
   * line. Its cost does not depend on the run's length: the line used to take series(), which
   * computes every second's percentiles (each a walk of a packed histogram, milliseconds apiece),
   * to show the newest one; called once a second, that grew to seconds per call within a minute,
   * on the thread the panels and the action driver run on, and their latencies grew with it
   * (issue 12 item 7).
   */
  function latestP99 (name: LatencyName): number | undefined {
    const r = recent.get(name)
    return r === undefined || r.t !== newestT ? undefined : r.ms
  }

  return {
    add,
    addDriver,
    series,
    latestP99,
    totals,
    driverTotals,
    errors,
    overall,
    connected: () => [...connected.values()].reduce((a, b) => a + b, 0),
    workerCpu: () => [...cpu.entries()].map(([worker, c]) => ({ worker, ...c }))
  }
}
export type Aggregator = ReturnType<typeof createAggregator>
