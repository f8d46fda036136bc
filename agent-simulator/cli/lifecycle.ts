/**
 * What a simulated game server does next. Pure functions of the current status and a random
 * source, so tests can pin them down and the worker's scheduler stays a dumb loop.
 *
 * Realistic mode follows the timings of real game servers closely enough to exercise the hub the
 * way a fleet would: long idle and running stretches, starts that take seconds, a share of crashes
 * (during start and while running) and automatic restarts after most crashes. Rate mode instead
 * walks the shortest legal cycle, so that every transition a benchmark asks for is a legal one.
 */
import { isLegalTransition, type AgentStatus } from '../../src/agent-protocol/index.ts'

export interface Step {
  to: AgentStatus
  /** How long the server stays in its current status before moving to `to`. */
  delayMs: number
  reason: string
}

type Random = () => number

/** Uniform in [lo, hi) seconds, as milliseconds. */
const between = (random: Random, lo: number, hi: number) => Math.round((lo + random() * (hi - lo)) * 1000)

/** Probabilities and timings of realistic mode, in one place so the report can print them. */
export const REALISTIC = {
  idleS: [5, 30],
  startS: [2, 8],
  crashOnStart: 0.08,
  runS: [10, 60],
  crashWhileRunning: 0.2,
  stopS: [1, 3],
  crashedS: [1, 5],
  restartAfterCrash: 0.75,
  installS: [5, 20]
} as const

export function realisticStep (status: AgentStatus, random: Random = Math.random): Step {
  const r = REALISTIC
  switch (status) {
    case 'STOPPED':
      return { to: 'STARTING', delayMs: between(random, r.idleS[0], r.idleS[1]), reason: 'start requested' }
    case 'STARTING':
      return random() < r.crashOnStart
        ? { to: 'CRASHED', delayMs: between(random, r.startS[0], r.startS[1]), reason: 'crashed while starting' }
        : { to: 'RUNNING', delayMs: between(random, r.startS[0], r.startS[1]), reason: 'started' }
    case 'RUNNING':
      return random() < r.crashWhileRunning
        ? { to: 'CRASHED', delayMs: between(random, r.runS[0], r.runS[1]), reason: 'process exited' }
        : { to: 'STOPPING', delayMs: between(random, r.runS[0], r.runS[1]), reason: 'stop requested' }
    case 'STOPPING':
      return { to: 'STOPPED', delayMs: between(random, r.stopS[0], r.stopS[1]), reason: 'stopped' }
    case 'CRASHED':
      return random() < r.restartAfterCrash
        ? { to: 'STARTING', delayMs: between(random, r.crashedS[0], r.crashedS[1]), reason: 'restart after crash' }
        : { to: 'STOPPED', delayMs: between(random, r.crashedS[0], r.crashedS[1]), reason: 'left stopped after crash' }
    case 'INSTALLING':
      return { to: 'STOPPED', delayMs: between(random, r.installS[0], r.installS[1]), reason: 'installed' }
  }
}

const CYCLE: Record<AgentStatus, AgentStatus> = {
  STOPPED: 'STARTING',
  STARTING: 'RUNNING',
  RUNNING: 'STOPPING',
  STOPPING: 'STOPPED',
  CRASHED: 'STARTING',
  INSTALLING: 'STOPPED'
}

/** Rate mode: the next status of the shortest legal cycle. */
export function cycleStep (status: AgentStatus): AgentStatus {
  return CYCLE[status]
}

/** A status a simulated agent may claim in its hello: UNKNOWN is the hub's alone. */
export function agentStatusOf (status: string): AgentStatus {
  return status in CYCLE ? status as AgentStatus : 'STOPPED'
}

// Both tables must only ever produce legal transitions; checked once at load so a typo fails loudly.
for (const [from, to] of Object.entries(CYCLE)) {
  if (!isLegalTransition(from as AgentStatus, to)) throw new Error(`lifecycle: ${from} -> ${to} is not legal`)
}
