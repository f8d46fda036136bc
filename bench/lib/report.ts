// Small helpers shared by the benchmark scripts.
export const sleep = async (ms: number) => await new Promise(resolve => setTimeout(resolve, ms))

/** Exact percentiles of raw samples (every latency is kept: a few hundred thousand numbers). */
export function percentiles (samples: number[]): { n: number, p50: number, p90: number, p99: number, p999: number, max: number } {
  const s = Float64Array.from(samples).sort()
  const at = (q: number) => s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)] as number
  return { n: s.length, p50: at(0.5), p90: at(0.9), p99: at(0.99), p999: at(0.999), max: s.length === 0 ? NaN : s[s.length - 1] as number }
}

export const ms = (x: number) => `${x < 10 ? x.toFixed(2) : x.toFixed(1)} ms`
export const int = (x: number) => Math.round(x).toLocaleString('en-US')
export const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`

/** Adds up per-key counters of several processes. */
export function sumCounts (all: Array<Record<string, number>>): Record<string, number> {
  const out: Record<string, number> = {}
  for (const counts of all) for (const [k, v] of Object.entries(counts)) out[k] = (out[k] ?? 0) + v
  return out
}
export const showCounts = (c: Record<string, number>) => Object.keys(c).length === 0 ? 'none' : Object.entries(c).map(([k, v]) => `${k}: ${v}`).join(', ')
