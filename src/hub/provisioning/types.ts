// The server configuration model of PROTOCOL.md 1.1 ("Server configuration (provision)"), as
// the hub stores and validates it. A leaf: the template checks, the resolution, the data access
// and the delivery all import it, and it imports nothing.

/** `^[A-Z][A-Z0-9_]{0,63}$`: also what a POSIX shell accepts as an environment name. */
export const VARIABLE_NAME = /^[A-Z][A-Z0-9_]{0,63}$/

/** Values the hub fills in itself; a template may use them but not declare them. */
export const BUILT_INS = ['SERVER_PORT', 'SERVER_MEMORY'] as const

/**
 * Names a template may not declare: the built-ins, and what the agent adds to the game's
 * environment itself (PROTOCOL.md: PATH, HOME, LANG).
 */
export const RESERVED_NAMES: ReadonlySet<string> = new Set([...BUILT_INS, 'PATH', 'HOME', 'LANG'])

/** SERVER_MEMORY when the server has no memory limit (MiB). */
export const DEFAULT_SERVER_MEMORY_MB = 1024

export const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'] as const
export const DEFAULT_GRACE_S = 30

export interface Variable {
  name: string
  default?: string
  description: string
  /** A variable without a default is always required; one with a default may not be set to ''. */
  required: boolean
}

export interface StopSpec {
  type: 'command' | 'signal'
  value: string
  graceS: number
}

export interface Template {
  startup: string
  stop: StopSpec
  doneRegex: string | null
  install: string | null
  variables: Variable[]
}

export interface AutoRestart {
  enabled: boolean
  maxRestarts: number
  windowS: number
}

export const DEFAULT_AUTO_RESTART: AutoRestart = { enabled: false, maxRestarts: 3, windowS: 300 }

/** What of a server its configuration is made from. */
export interface ServerSettings {
  id: string
  name: string
  port: number
  environment: Record<string, string>
  memoryLimitMb: number | null
  autoRestart: AutoRestart
  configRevision: number
}

/** The `server.config` frame (hub -> agent). */
export interface ServerConfigFrame {
  type: 'server.config'
  serverId: string
  revision: number
  name: string
  port: number
  startup: string
  stop: StopSpec
  doneRegex?: string
  install?: string
  environment: Record<string, string>
  memoryLimitMb?: number
  autoRestart: AutoRestart
}

/** A refusal that names the field at fault, for a 400. */
export interface FieldProblem { field: string, message: string }

export type Checked<T> = { ok: true, value: T } | ({ ok: false } & FieldProblem)
