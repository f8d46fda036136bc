/**
 * What a simulated game server prints and measures (protocol 1.1 `console` and `stats`), so a
 * person watching the panel during `npm run simulate` sees consoles and stats move, not only
 * statuses. Realistic mode only: rate mode measures the status path and stays free of it.
 * Pure functions of a random source, like lifecycle.ts.
 */
import type { AgentStatus } from '../../src/agent-protocol/index.ts'

export const SIM_FEATURES = ['console', 'stats']

/** How often running servers report stats and may print a line. */
export const OUTPUT_EVERY_MS = 2_000

type Random = () => number

const stamp = (at: Date) => at.toISOString().slice(11, 19)

const ON_ENTER: Partial<Record<AgentStatus, (reason: string) => string[]>> = {
  STARTING: reason => [`Starting server (${reason})`, 'Loading world...'],
  RUNNING: () => ['\u001b[32mDone!\u001b[0m Server is ready for players'],
  STOPPING: reason => [`Stopping server (${reason})`, 'Saving world...'],
  STOPPED: () => ['Server stopped'],
  CRASHED: reason => [`\u001b[31mServer crashed: ${reason}\u001b[0m`],
  INSTALLING: () => ['Installing...']
}

/** The console lines of a server entering `to`. */
export function transitionLines (to: AgentStatus, reason: string, at = new Date()): string[] {
  return (ON_ENTER[to]?.(reason) ?? []).map(line => `[${stamp(at)}] ${line}`)
}

const CHATTER = ['Player joined the game', 'Player left the game', 'Saved the game', 'Can\'t keep up! Is the server overloaded?', 'Autosave complete']

/** Now and then a running server says something (about one tick in three). */
export function chatterLine (random: Random, at = new Date()): string | undefined {
  if (random() >= 1 / 3) return undefined
  return `[${stamp(at)}] ${CHATTER[Math.floor(random() * CHATTER.length)] as string}`
}

/** A plausible stats sample of a running server. */
export function statsSample (random: Random, uptimeMs: number): { cpuPercent: number, memoryBytes: number, uptimeMs: number, players: number } {
  return {
    cpuPercent: Math.round((5 + random() * 60) * 10) / 10,
    memoryBytes: Math.round((512 + random() * 1024) * 1048576),
    uptimeMs,
    players: Math.floor(random() * 20)
  }
}

/** The console echo of a COMMAND, as a game server's console shows its input. */
export const commandLine = (input: string, at = new Date()) => `[${stamp(at)}] > ${input}`
