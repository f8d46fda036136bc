/**
 * Load beyond the agents (panel connections, power actions) plugs in through this interface, so
 * the run loop, the live table and the report treat every driver alike. Its life in a run:
 *
 * 1. `start` once every agent is connected (panels subscribe here, before the load begins, so the
 *    completeness check can expect every transition acked during the load);
 * 2. `sample` once a second (counters and interval histograms, merged like the workers');
 *    `onCommand` whenever an agent reports receiving a command;
 * 3. `drain` when the load phase ends, while the agents still run: stop generating, and let what is
 *    in flight settle (accepted actions need live agents to reach a final state);
 * 4. `verify` after the agents drained and closed, with every transition they had acked: wait a
 *    bounded time for stragglers, then list violations;
 * 5. `stop` always, in the run's `finally`: close sockets and timers (idempotent).
 */
import type { ApiClient } from './api-client.ts'
import type { Violation } from './correctness.ts'
import type { Histogram, LatencyName } from './stats.ts'
import type { AckedByServer, WorkerAgent } from './worker-protocol.ts'
import { createActionDriver } from './action-driver.ts'
import { createPanelDriver } from './panel-driver.ts'

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

/** A driver that cannot run: it never does, and says so in the output and the report. */
export function placeholderDriver (name: string, requested: string | undefined, reason: string): LoadDriver {
  return {
    name,
    requested,
    notRunReason: reason,
    async start () {},
    sample: () => ({ counters: {}, histograms: {} }),
    async drain () {},
    async verify () { return { violations: [], details: {} } },
    async stop () {}
  }
}

export interface DriverOptions {
  panels: number
  stallPanels: number
  panelServers: number | undefined
  actionRate: number
  actionDrainS: number
}

export function createDrivers (o: DriverOptions): LoadDriver[] {
  return [
    createPanelDriver({ panels: o.panels, stallFraction: o.stallPanels, perPanel: o.panelServers }),
    createActionDriver({ ratePerS: o.actionRate, drainMs: o.actionDrainS * 1000 })
  ]
}

/** Whether a driver takes part in this run. */
export const isActive = (d: LoadDriver): boolean => d.requested !== undefined && d.notRunReason === undefined
