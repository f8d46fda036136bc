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
import type { LoadDriver } from './driver-types.ts'
import { createActionDriver } from './action-driver.ts'
import { createPanelDriver } from './panel-driver.ts'

export type { DriverContext, DriverSample, DriverVerdict, LoadDriver } from './driver-types.ts'

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
  consoleRate: number
  statsIntervalS: number
  panelHubs: string[] | undefined
}

export function createDrivers (o: DriverOptions): LoadDriver[] {
  return [
    createPanelDriver({ panels: o.panels, stallFraction: o.stallPanels, perPanel: o.panelServers, console: o.consoleRate > 0, stats: o.statsIntervalS > 0, hubs: o.panelHubs }),
    createActionDriver({ ratePerS: o.actionRate, drainMs: o.actionDrainS * 1000 })
  ]
}

/** Whether a driver takes part in this run. */
export const isActive = (d: LoadDriver): boolean => d.requested !== undefined && d.notRunReason === undefined
