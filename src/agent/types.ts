// Shared types of the node agent (a leaf module: no imports of other agent files, so no cycles).
import type { AgentStatus } from '../agent-protocol/index.ts'

export type { AgentStatus }

/** What the hub's `server.config` says about one server (PROTOCOL.md 1.1, "Server configuration"). */
export interface ServerConfig {
  serverId: string
  revision: number
  name: string
  port: number
  /** The resolved command line, run with `/bin/sh -c`. */
  startup: string
  stop: { type: 'command' | 'signal', value: string, graceS?: number }
  doneRegex?: string
  install?: string
  environment: Record<string, string>
  memoryLimitMb?: number
  autoRestart: { enabled: boolean, maxRestarts: number, windowS: number }
}

/** command.result error codes an agent may answer (PROTOCOL.md 1.1). */
export const RESULT_CODES = [
  'ALREADY_RUNNING', 'NOT_RUNNING', 'NO_CONFIG', 'SPAWN_FAILED', 'INSTALL_FAILED', 'INPUT_FAILED',
  'FEATURE_UNSUPPORTED'
] as const
export type ResultCode = typeof RESULT_CODES[number]

export interface Outcome {
  ok: boolean
  error?: { code: string, message: string }
}

export const OK: Outcome = { ok: true }

export function failure (code: ResultCode, message: string): Outcome {
  return { ok: false, error: { code, message: message.slice(0, 1024) } }
}

/** A status report not yet acknowledged by a hub; persisted so that it survives an agent restart. */
export interface OutboxEntry {
  seq: number
  status: AgentStatus
  at: string
  reason?: string
}

/** How a process the agent started was asked to end. */
export type StopKind = 'stop' | 'kill' | 'restart' | 'remove' | 'memory'

/** The live process of a server, as persisted for re-adoption after an agent restart. */
export interface ProcessRecord {
  pid: number
  /** Field 22 of /proc/<pid>/stat (clock ticks since boot): with the pid, it names one process. */
  startTime: number
  kind: 'game' | 'install'
  startedAtMs: number
  stop?: { kind: StopKind, atMs: number, reason?: string }
}

/** Everything of one server that must survive an agent restart (AGENT_DATA_DIR/run/<id>/state.json). */
export interface ServerRecord {
  serverId: string
  status: AgentStatus
  seq: number
  outbox: OutboxEntry[]
  process?: ProcessRecord
  /** Times (ms) of automatic restarts, for the crash-loop guard. */
  restarts: number[]
}

/** The subset of a pino logger the agent uses. */
export interface AgentLogger {
  debug (obj: object, msg: string): void
  info (obj: object, msg: string): void
  warn (obj: object, msg: string): void
  error (obj: object, msg: string): void
}

export const SILENT_LOGGER: AgentLogger = { debug () {}, info () {}, warn () {}, error () {} }
