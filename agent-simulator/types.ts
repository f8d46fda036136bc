// The public types of the agent client (agent-client.ts), apart so that its logic reads in one go.
import type {
  AgentStatus, CommandMessage, CommandResultMessage, ErrorMessage, HelloServer, StatusAckMessage, WelcomeMessage
} from '../src/agent-protocol/index.ts'
import type { BackoffOptions } from './backoff.ts'

/** What onCommand answers; sent to the hub as `command.result`. */
export type CommandOutcome = Pick<CommandResultMessage, 'ok' | 'error'>

export interface AgentCloseEvent {
  code: number
  reason: string
  /** False when the client gives up: close(), a terminal code (4401, 4406, 4409), HTTP 401, or a
   *  failed first connect (connect() rejects instead). */
  willReconnect: boolean
}

/** The subset of a pino logger the client uses. */
export interface AgentLog {
  debug (obj: object, msg: string): void
  warn (obj: object, msg: string): void
}

export interface AgentClientOptions {
  /** ws:// URL of `GET /agent/v1`. */
  url: string
  /** The node's agent token (a JWT), sent as `Authorization: Bearer`. */
  token: string
  /** Every server of the node with its current status and latest seq (0 if it never reported). */
  servers: HelloServer[]
  agentVersion?: string
  /** Protocol 1.1 features to ask for in `hello` (absent: a v1 hello without `features`). */
  features?: string[]
  reconnect?: BackoffOptions
  /** Deadline for open + hello + welcome, and for a clean close. Default 10 s. */
  handshakeTimeoutMs?: number
  /** Deadline of a report() promise. The status stays queued (and is replayed) after it. Default 10 s. */
  ackTimeoutMs?: number
  /** Unacked statuses kept per server; report() throws OUTBOX_FULL beyond. Default 64. */
  maxPendingPerServer?: number
  /** Largest frame accepted from the hub; match the hub's limit if it was raised. Default 64 KiB. */
  maxFrameBytes?: number
  /** Runs each command once; its answer (or throw) becomes `command.result`. Default: ok. */
  onCommand?: (cmd: CommandMessage) => CommandOutcome | Promise<CommandOutcome>
  /** Every `error` frame, including those that also reject a report(). */
  onErrorFrame?: (frame: ErrorMessage) => void
  onWelcome?: (welcome: WelcomeMessage) => void
  onClose?: (event: AgentCloseEvent) => void
  /** A reconnect is scheduled: `attempt` counts from 0 since the last welcome. */
  onReconnect?: (attempt: number, delayMs: number) => void
  /** Latency of one status -> status.ack, from the last time it was sent; for histograms. Only acks
   *  the hub sent for this very status: those synthesized from `welcome.lastSeq` do not count, since
   *  the hub may have stored them folded into the hello snapshot rather than as a row of their own. */
  onAck?: (latencyMs: number, ack: StatusAckMessage, status: AgentStatus) => void
  log?: AgentLog
  /** Source of jitter, [0, 1). Default Math.random. */
  random?: () => number
}

export type AgentClientState = 'idle' | 'connecting' | 'ready' | 'backoff' | 'closed'

export interface AgentClient {
  readonly state: AgentClientState
  /** Opens the connection and sends `hello`; resolves on `welcome`. */
  connect (): Promise<WelcomeMessage>
  /**
   * Moves a server to `status` and sends it with the next seq (queued while not connected).
   * Throws at once, changing nothing, on an unknown server, an illegal transition or a full outbox.
   * Resolves with the `status.ack` (a synthesized one when `welcome.lastSeq` covers it); rejects on
   * an `error` frame naming it, on ackTimeoutMs, or when the client closes. Always handle it.
   */
  report (serverId: string, status: AgentStatus, reason?: string): Promise<StatusAckMessage>
  /**
   * Protocol 1.1: console output of a server (at most 100 lines per frame; split by the caller) or
   * a stats sample. Sent only while ready and when `welcome.features` has the feature; returns
   * whether it was sent. Nothing is queued: like a real agent's live output, it is ephemeral.
   */
  sendConsole (serverId: string, lines: string[], replay?: boolean): boolean
  sendStats (stats: { serverId: string, at?: string, cpuPercent: number, memoryBytes: number, uptimeMs: number, memoryLimitBytes?: number, players?: number }): boolean
  /** The features the latest `welcome` negotiated (empty for a v1 welcome). */
  readonly features: readonly string[]
  /** Sends a frame as is, bypassing the protocol: for tests of bad input. */
  sendRaw (data: string | Buffer): void
  /** The current status and seq of every server, as the next hello would send them. */
  snapshot (): HelloServer[]
  /** Destroys the TCP connection at once, without a close frame, as a crash or a cut cable would;
   *  the client then reconnects as after any drop. For chaos tests; a no-op while not connected. */
  drop (): void
  /** Closes with 1000 and never reconnects; rejects what is still pending. */
  close (): Promise<void>
}
