// Messages between the main thread and the agent workers (agent-worker.ts), typed in one place.
import type { HelloServer } from '../../src/agent-protocol/index.ts'
import type { WorkerSample } from './stats.ts'

export interface WorkerAgent {
  nodeId: string
  token: string
  servers: HelloServer[]
}

export interface WorkerInit {
  worker: number
  /** ws:// URL of the hub's /agent/v1. */
  url: string
  agents: WorkerAgent[]
  /** This worker's share of --rate; undefined in realistic mode. */
  ratePerS: number | undefined
  dropFraction: number
  restartFraction: number
  chaosEveryMs: number
  sampleEveryMs: number
  connectConcurrency: number
  /** Share of commands the agents answer with a failure. */
  commandFailure: number
  /** Console lines per second per server (0: none); each is `sim <seq> <send time, epoch ms>`. */
  consoleRate: number
  /** Stats sample of each server every this many ms (0: none). */
  statsIntervalMs: number
}

/** Acked transitions per server, as parallel arrays (compact to clone across threads). */
export type AckedByServer = Record<string, { seqs: number[], statuses: string[] }>

// main -> worker
export type ToWorker = { type: 'load' } | { type: 'stop' }

// worker -> main
export type FromWorker =
  | { type: 'sample', sample: WorkerSample }
  | { type: 'connected', sample: WorkerSample }
  | { type: 'final', sample: WorkerSample, acked: AckedByServer, unackedAtEnd: number }
  | { type: 'failed', message: string }
