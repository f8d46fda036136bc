/**
 * Enumerations and limits shared by the hub, the agents and the simulator.
 * Source of truth: PROTOCOL.md, sections "Enumerations" and "Agent protocol".
 *
 * Each enumeration is a const array (iterable, usable in schemas) plus a type union derived from
 * it, rather than a TypeScript `enum`, which is not erasable syntax.
 */

/** The only agent protocol version this code speaks. `hello.protocol` must equal it (else 4406). */
export const PROTOCOL_VERSION = 1

/** Largest `seq` accepted: beyond it a JS number no longer counts integers exactly. */
export const MAX_SEQ = Number.MAX_SAFE_INTEGER

/** Most servers one `hello` snapshot may list. Note that the frame size limit (64 KiB by default,
 *  about 900 servers) binds first unless the hub raises it. */
export const MAX_HELLO_SERVERS = 10_000

export const SERVER_STATUSES = [
  'INSTALLING',
  'STOPPED',
  'STARTING',
  'RUNNING',
  'STOPPING',
  'CRASHED',
  'UNKNOWN'
] as const
export type ServerStatus = typeof SERVER_STATUSES[number]

/**
 * The statuses an agent may report. `UNKNOWN` is the hub's own verdict on a lost node, so an agent
 * that sends it is refused by the schema (a BAD_FRAME), not by the transition check.
 */
export const AGENT_STATUSES = [
  'INSTALLING',
  'STOPPED',
  'STARTING',
  'RUNNING',
  'STOPPING',
  'CRASHED'
] as const satisfies readonly ServerStatus[]
export type AgentStatus = typeof AGENT_STATUSES[number]

// INSTALL and COMMAND are protocol 1.1 (PROTOCOL.md "New action types"): the hub sends them only to
// a node whose welcome negotiated `provision` / `console` respectively.
export const ACTION_TYPES = ['START', 'STOP', 'RESTART', 'KILL', 'INSTALL', 'COMMAND'] as const
export type ActionType = typeof ACTION_TYPES[number]

export const ACTION_STATES = [
  'QUEUED',
  'DISPATCHED',
  'ACKED',
  'SUCCEEDED',
  'FAILED',
  'EXPIRED',
  'CANCELLED'
] as const
export type ActionState = typeof ACTION_STATES[number]

/**
 * The transitions an agent may report in a `status` frame, from PROTOCOL.md. `UNKNOWN` has no row:
 * leaving it is always legal (see isLegalTransition). A `hello` snapshot is not checked against
 * this table at all; it is the agent's truth after a reconnect.
 */
export const LEGAL_TRANSITIONS: Readonly<Record<AgentStatus, readonly AgentStatus[]>> = {
  INSTALLING: ['STOPPED', 'CRASHED'],
  STOPPED: ['STARTING', 'INSTALLING'],
  STARTING: ['RUNNING', 'STOPPING', 'CRASHED', 'STOPPED'],
  RUNNING: ['STOPPING', 'CRASHED', 'STOPPED'],
  STOPPING: ['STOPPED', 'CRASHED'],
  CRASHED: ['STARTING', 'STOPPED', 'INSTALLING']
}

/**
 * Whether an agent may move a server from `from` to `to`.
 *
 * `from` is null when the hub holds no status for the server yet; like `UNKNOWN`, it means the hub
 * has no opinion, so any agent status is accepted. `to` = `UNKNOWN` is never legal, because agents
 * never send it. A same-status "transition" is not legal either: it changes nothing and would add
 * a misleading row to the history (a duplicate is recognised by its seq, before this check).
 */
export function isLegalTransition (from: ServerStatus | null, to: ServerStatus): boolean {
  if (to === 'UNKNOWN') return false
  if (from === null || from === 'UNKNOWN') return true
  return LEGAL_TRANSITIONS[from].includes(to)
}

/** `console` frames (agent -> hub and hub -> panel): at most this many lines per frame... */
export const MAX_CONSOLE_LINES = 100
/** ...and this many UTF-8 bytes of text in all its lines together... */
export const MAX_CONSOLE_FRAME_TEXT_BYTES = 16_384
/** ...each line at most this many UTF-8 bytes, with no CR or LF. */
export const MAX_CONSOLE_LINE_BYTES = 4096
/** How many recent lines per server an agent replays after `welcome` and the hub keeps. */
export const CONSOLE_REPLAY_LINES = 200

/** `COMMAND` input: 1 to this many characters of storable text, no CR or LF. */
export const MAX_COMMAND_INPUT_LENGTH = 1024

/** Revisions of a server's configuration are PostgreSQL integers: 1 to 2^31 - 1. */
export const MAX_CONFIG_REVISION = 2_147_483_647

/** The signals a template's `stop` may name. */
export const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'] as const
export type StopSignal = typeof STOP_SIGNALS[number]

/** A template variable's name (and so an `environment` key). */
export const VARIABLE_NAME_PATTERN = '^[A-Z][A-Z0-9_]{0,63}$'
