/**
 * Close codes and `error` frame codes of the agent protocol, with what each means for the agent.
 * Modelled on centrifuge's disconnect.go: the code carries the decision "reconnect or give up", so
 * an agent never has to parse a reason string to decide.
 *
 * Codes 1000-1015 are WebSocket's own (RFC 6455); 4000-4999 are ours, and their last three digits
 * echo the closest HTTP status on purpose, so they read at a glance in logs.
 */

export const CLOSE = {
  /** The hub is shutting down or restarting. Reconnect: another instance, or this one, will answer. */
  GOING_AWAY: 1001,
  /** The connection broke a hub policy that has no more specific code. Reconnect with backoff: the
   *  next connection may behave. */
  POLICY: 1008,
  /** A frame exceeded the size limit. Reconnect with backoff; the agent should send smaller frames. */
  TOO_BIG: 1009,
  /** Too many bad frames on this connection. Reconnect with backoff: the agent or hub may be buggy,
   *  and hammering the hub helps neither. */
  PROTOCOL_ERROR: 4400,
  /** The token is invalid, superseded, or the node was deleted. Terminal: reconnecting with the same
   *  credentials can only fail again; a new token must be issued. */
  UNAUTHORIZED: 4401,
  /** `hello.protocol` is a version this hub does not speak. Terminal: retrying cannot change it;
   *  the agent or the hub must be upgraded. */
  UNSUPPORTED_VERSION: 4406,
  /** No `hello` within 10 s, or the heartbeat was lost. Reconnect: usually a network hiccup. */
  TIMEOUT: 4408,
  /** A newer connection of the same node took over. Terminal for this connection: reconnecting would
   *  replace the newer one, and two agents holding the same token would evict each other forever. */
  REPLACED: 4409,
  /** The agent flooded the hub past its rate limit. Reconnect after backoff. */
  RATE_LIMITED: 4429
} as const

export type CloseCode = typeof CLOSE[keyof typeof CLOSE]

const TERMINAL_CLOSE_CODES: ReadonlySet<number> = new Set([
  CLOSE.UNAUTHORIZED,
  CLOSE.UNSUPPORTED_VERSION,
  CLOSE.REPLACED
])

/**
 * Whether an agent whose connection closed with `code` should connect again (with backoff).
 * Everything not known to be terminal reconnects, including codes this version does not know and
 * abnormal closures (1006): a lost connection must heal by itself.
 */
export function shouldReconnect (code: number): boolean {
  return !TERMINAL_CLOSE_CODES.has(code)
}

/**
 * Codes of hub -> agent `error` frames. An `error` refuses one frame; the connection stays open
 * unless a close follows. `ref` names the refused frame (`"<serverId>:<seq>"` for a `status`, the
 * `commandId` for `command.*`), so the agent knows what to drop or resend.
 */
export const ERROR = {
  /** Unparsable or schema-invalid frame (the message says why). Fix the sender; do not resend as is.
   *  Repeated bad frames end in close 4400. */
  BAD_FRAME: 'BAD_FRAME',
  /** A `status` names a server that does not exist or is not on this node. Drop it. */
  NOT_YOUR_SERVER: 'NOT_YOUR_SERVER',
  /** The reported status cannot follow the stored one (see LEGAL_TRANSITIONS). Drop it; the next
   *  `hello` snapshot, which is not checked, can put the hub right. */
  ILLEGAL_TRANSITION: 'ILLEGAL_TRANSITION',
  /** The agent sends too fast; this frame was dropped. Slow down; a close 4429 follows if it goes on. */
  RATE_LIMITED: 'RATE_LIMITED',
  /** A frame other than `hello` arrived before the `hello`. Send `hello` first. */
  NOT_READY: 'NOT_READY',
  /** A second `hello` on the same connection. Ignored; reconnect to send a new snapshot. */
  ALREADY_HELLO: 'ALREADY_HELLO',
  /** A `command.ack` or `command.result` names a command the hub does not know for this node
   *  (expired, cancelled, or never sent). Drop it. */
  UNKNOWN_COMMAND: 'UNKNOWN_COMMAND',
  /** The hub could not store the frame (for example the database failed). Nothing was recorded:
   *  resend later, with the same seq; replays are idempotent. Transient, unlike UNSTORABLE. */
  INTERNAL: 'INTERNAL',
  /** 1.1. Storage refused this report on its own (never because of another client's data): it can
   *  never be stored. Terminal: do not resend it. The hub fails that server's later reports of the
   *  same batch with it too, so per-server order holds; the agent drops them all. */
  UNSTORABLE: 'UNSTORABLE',
  /** 1.1. The frame needs a feature this hub does not support or did not negotiate. Drop it; the
   *  hub's `welcome.features` says what it speaks. (A frame of a non-negotiated feature arriving
   *  at the hub is a BAD_FRAME; this code is for refusals that name the feature.) */
  FEATURE_UNSUPPORTED: 'FEATURE_UNSUPPORTED'
} as const

export type ErrorCode = typeof ERROR[keyof typeof ERROR]

/**
 * Codes of agent -> hub `command.result` errors (`error.code` when `ok` is false), PROTOCOL.md 1.1.
 * The hub stores the code on the action; `error.code` stays a free string on the wire so that an
 * agent may add codes, but these are the ones the hub and panels know.
 */
export const COMMAND_ERROR = {
  /** START on a server whose process is already running. */
  ALREADY_RUNNING: 'ALREADY_RUNNING',
  /** STOP, RESTART, KILL or COMMAND on a server with no running process. */
  NOT_RUNNING: 'NOT_RUNNING',
  /** START or INSTALL on a server whose configuration (`server.config`) the agent does not have. */
  NO_CONFIG: 'NO_CONFIG',
  /** The startup command could not be started (exec failed, working directory unusable). */
  SPAWN_FAILED: 'SPAWN_FAILED',
  /** The install script failed (non-zero exit, or killed); the server ends CRASHED. */
  INSTALL_FAILED: 'INSTALL_FAILED',
  /** COMMAND: the input could not be written to the server's console input. */
  INPUT_FAILED: 'INPUT_FAILED',
  /** The action needs a feature the agent does not speak (INSTALL without `provision`, COMMAND
   *  without `console`). The hub also ends such actions FAILED with this code without sending them. */
  FEATURE_UNSUPPORTED: 'FEATURE_UNSUPPORTED'
} as const

export type CommandErrorCode = typeof COMMAND_ERROR[keyof typeof COMMAND_ERROR]
