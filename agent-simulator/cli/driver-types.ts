// The load drivers' interface (drivers.ts explains its life in a run), in a leaf of its own so that
// the drivers and the file that creates them do not import each other.
import type { ApiClient } from './api-client.ts'
import type { Violation } from './correctness.ts'
import type { Histogram, LatencyName } from './stats.ts'
import type { AckedByServer, WorkerAgent } from './worker-protocol.ts'

export interface DriverContext {
  api: ApiClient
  hubUrl: string
  agents: readonly WorkerAgent[]
  log (line: string): void
}

export interface DriverSample {
  /** Counters shown in the live table and summed into the report (e.g. events, actions). */
  counters: Record<string, number>
  /** Histograms of this interval, to merge into the run's (statusEvent, actionCommand, ...). */
  histograms: Partial<Record<LatencyName, Histogram>>
}

export interface DriverVerdict {
  violations: Violation[]
  /** Driver-specific figures for the report (per-state counts, excused misses, ...). */
  details: Record<string, unknown>
}

export interface LoadDriver {
  readonly name: string
  /** What was asked of it, e.g. "100 panels"; undefined when the options did not ask for it. */
  readonly requested: string | undefined
  /** Why it cannot run with this hub or this build; undefined when it runs. */
  readonly notRunReason: string | undefined
  start (ctx: DriverContext): Promise<void>
  sample (): DriverSample
  /** An agent received command `commandId` at `at` (epoch ms, sub-millisecond). */
  onCommand? (commandId: string, at: number): void
  drain (): Promise<void>
  verify (acked: AckedByServer): Promise<DriverVerdict>
  stop (): Promise<void>
}
