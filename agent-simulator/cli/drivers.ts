/**
 * Load beyond the agents (panel connections, power actions) plugs in through this interface, so
 * the run loop, the live table, the report and the correctness verdict need no change when the
 * panel client and the actions API land: a driver starts after the agents are connected, is
 * sampled once a second, stops before the agents do, and verifies its own invariants at the end
 * (panels saw every event in order without gaps or a resync; every accepted action reached a final
 * state).
 *
 * Until then the registered drivers are placeholders that say they did not run and why, so a user
 * asking for `--panels 100` is never led to think panels were exercised.
 */
import type { ApiClient } from './api-client.ts'
import type { Violation } from './correctness.ts'
import type { Histogram, LatencyName } from './stats.ts'
import type { WorkerAgent } from './worker-protocol.ts'

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

export interface LoadDriver {
  readonly name: string
  /** What was asked of it, e.g. "100 panels"; undefined when the options did not ask for it. */
  readonly requested: string | undefined
  /** Why it cannot run with this hub or this build; undefined when it runs. */
  readonly notRunReason: string | undefined
  start (ctx: DriverContext): Promise<void>
  sample (): DriverSample
  stop (): Promise<void>
  verify (): Promise<Violation[]>
}

/** A driver that does not exist yet: it never runs, and says so in the output and the report. */
export function placeholderDriver (name: string, requested: string | undefined, reason: string): LoadDriver {
  return {
    name,
    requested,
    notRunReason: reason,
    async start () {},
    sample: () => ({ counters: {}, histograms: {} }),
    async stop () {},
    async verify () { return [] }
  }
}

export function createDrivers (opts: { panels: number, actionRate: number, stallPanels: number }): LoadDriver[] {
  return [
    placeholderDriver('panels',
      opts.panels > 0 ? `${opts.panels} panels${opts.stallPanels > 0 ? `, ${opts.stallPanels * 100}% stalled` : ''}` : undefined,
      'the panel client (/panel/v1) is not part of the simulator yet'),
    placeholderDriver('actions',
      opts.actionRate > 0 ? `${opts.actionRate} actions/s` : undefined,
      'the actions driver (POST /api/servers/:id/actions) is not part of the simulator yet')
  ]
}
