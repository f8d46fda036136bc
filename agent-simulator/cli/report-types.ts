// The report's shape, in a leaf of its own: report.ts builds it, report-html.ts renders it, and
// neither imports the other's module for it.
import type { TransitionCheck, Violation } from './correctness.ts'
import type { SimulateOptions } from './options.ts'
import type { Counters, LatencyName, Percentiles, SecondStats } from './stats.ts'

export interface LatencyReport extends Percentiles {
  title: string
  histogram: Array<{ upToMs: number, share: number }>
  curve: Array<{ percentile: number, ms: number }>
}

export interface Threshold { name: string, limit: number, actual: number, met: boolean }

export interface Report {
  tool: 'agent-simulator'
  reportVersion: 1
  startedAt: string
  finishedAt: string
  passed: boolean
  options: Omit<SimulateOptions, 'adminPassword' | 'databaseUrl'> & { databaseUrlGiven: boolean }
  hub: { url: string, startedBySimulator: boolean, version: string }
  machine: { cpuModel: string, cores: number, totalMemoryBytes: number, freeMemoryBytes: number, platform: string, release: string, node: string }
  simulator: {
    workers: number
    wallS: number
    cpuUserS: number
    cpuSystemS: number
    /** Share of one core the whole simulator process used over the run (1 = one full core). */
    coresUsed: number
    /** The same over the load phase alone, the figure to set beside the hub's. */
    loadCoresUsed: number
    perWorker: Array<{ worker: number, cpuUserS: number, cpuSystemS: number }>
  }
  phases: { connectS: number, loadS: number, drainS: number }
  totals: Counters
  rates: {
    transitionsPerS: number
    acksPerS: number
    /** Panel events received per second, over the load phase (every panel summed). */
    panelEventsPerS: number
    actionsPerS: number
    /** Internal errors (error INTERNAL frames, HTTP 5xx to action POSTs) per status or action sent. */
    errorRate: number
  }
  /** The load drivers' counters summed over the run. */
  driverTotals: Record<string, number>
  latency: Record<LatencyName, LatencyReport | { title: string, measured: false, why: string }>
  series: SecondStats[]
  errors: Record<string, number>
  drivers: Array<{ name: string, requested: string | undefined, ran: boolean, notRunReason: string | undefined, details?: Record<string, unknown> }>
  correctness: { transitions: TransitionCheck | { skipped: string }, unackedAtEnd: number }
  thresholds: Threshold[]
  violations: Violation[]
  notes: string[]
}
