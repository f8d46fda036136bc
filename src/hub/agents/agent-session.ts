// One agent connection, after authentication: hello → welcome, status ingest, command replies.
// Heartbeats, rate limits, bad-frame accounting, the bounded send path and closing are the
// connection kernel's (connection/connection.ts); like it, this knows nothing of Fastify or ws.
import {
  CLOSE, ERROR, PROTOCOL_VERSION, decodeAgentMessage, encode, featureOfAgentFrame, negotiateFeatures,
  type AgentMessage, type CommandMessage, type ConsoleMessage, type Feature, type HelloMessage, type HubMessage, type StatsMessage
} from '../../agent-protocol/index.ts'
import { createTokenBucket } from '../token-bucket.ts'
import { startsWithAscii, type FrameMeter } from '../connection/frame-meter.ts'
import { createConnection, type ConnectionLimits } from '../connection/connection.ts'
import type { Log, SetTimer, Transport } from '../connection/types.ts'
import type { HelloResult } from './hello.ts'
import type { IngestOutcome, StatusReport } from './status-ingest.ts'

export interface AgentSessionLimits extends ConnectionLimits {
  helloTimeoutMs: number
  maxFrameBytes: number
  /** The own budget of `console` and `stats` frames (PROTOCOL.md 1.1: 200/s); excess is dropped silently. */
  streamRatePerSecond?: number
}

export interface AgentSessionDeps {
  nodeId: string
  transport: Transport
  /** Counts this connection's frames by type (hub_ws_frames_total). */
  frames?: FrameMeter
  limits: AgentSessionLimits
  now: () => number
  setTimer: SetTimer
  /** `features`: the negotiated ones (to store as the node's latest); undefined for a v1 hello. */
  hello: (msg: HelloMessage, features: readonly Feature[] | undefined) => Promise<HelloResult>
  /** The features this hub enables (welcome.features is the intersection with hello.features). */
  features?: readonly Feature[]
  /** Console output and stats of this node's servers (negotiated ones only, within their budget). */
  stream?: (msg: ConsoleMessage | StatsMessage, session: AgentSession) => void
  submit: (report: StatusReport) => Promise<IngestOutcome>
  /** A `command.ack` or `command.result` of this node, to be recorded. */
  reply?: (reply: CommandReply) => Promise<CommandReplyOutcome>
  /** The session became ready (welcome sent): configurations, then pending commands, go out now. */
  onReady?: (hello: HelloMessage) => void
  /** A `server.config.ack` (feature `provision`), to be recorded. */
  configAck?: (ack: { serverId: string, revision: number }) => Promise<'applied' | 'stale' | 'unknown'>
  /** Whether a server is on this node now (for console and stats of servers created after hello). */
  owns?: (serverId: string) => Promise<boolean>
  log: Log
}

export type CommandReply =
  | { type: 'ack', nodeId: string, commandId: string }
  | { type: 'result', nodeId: string, commandId: string, ok: boolean, code: string | null, message: string | null }

/**
 * `applied`: the action moved. `ignored`: a duplicate or late reply (the action is already past
 * it, or final, or expired); nothing moves. `unknown`: never sent to this node. `refused`: not
 * recorded (storage failed, hub closing); the agent may resend.
 */
export type CommandReplyOutcome = { kind: 'applied' | 'unknown' | 'refused' } | { kind: 'ignored', row: { state: string } }

export interface AgentSession {
  readonly nodeId: string
  onFrame (data: string | Buffer, isBinary: boolean): void
  onPong (): void
  /** The transport closed (for whatever reason): stop timers. */
  onClosed (): void
  close (code: number, reason: string): void
  /** True between `welcome` and the close: commands may be sent. */
  isReady (): boolean
  /** Whether the server is one of this node's as of its hello (the cross-hub replay asks). */
  owns (serverId: string): boolean
  sendCommand (msg: CommandMessage): void
  /** The features negotiated by welcome (empty before it, and for a v1 agent). */
  hasFeature (feature: Feature): boolean
  /** The server was deleted: its console and stats are refused from now on (asked again, as for a new one). */
  disown (serverId: string): void
  /** A replay run (PROTOCOL.md 1.1): true for the first `replay` frame of a server on this connection. */
  startsReplay (serverId: string): boolean
  /** A frame of a negotiated feature (`server.config`, `server.removed`); dropped otherwise. */
  sendFeature (feature: Feature, msg: HubMessage): void
}

// A cheap look at the frame's start: a frame that says it is console or stats skips the kernel's
// frame budget (and its 4429) and takes this session's stream budget instead, checked after decoding.
// The spelling agents send is compared in place (no string, no regex: it is every console line);
// any other spelling of the same start goes through the regex.
const STREAM_FRAME = /^\s*\{\s*"type"\s*:\s*"(console|stats)"/
const CONSOLE_START = '{"type":"console"'
const STATS_START = '{"type":"stats"'

export function createAgentSession (deps: AgentSessionDeps): AgentSession {
  const { nodeId, transport, limits, now, log } = deps
  let state: 'awaiting-hello' | 'reconciling' | 'ready' | 'closed' = 'awaiting-hello'
  let negotiated: ReadonlySet<Feature> = new Set()
  const replayed = new Set<string>()
  /** The node's servers as of its hello (welcome.lastSeq's keys): console and stats for others are NOT_YOUR_SERVER. */
  let own = new Set<string>()
  const streamBudget = createTokenBucket(limits.streamRatePerSecond ?? 200, limits.streamRatePerSecond ?? 200, now)
  const errorFrame = (code: string, message: string, ref?: string) => encode({ type: 'error', code, message, ...(ref === undefined ? {} : { ref }) })
  const conn = createConnection({
    transport,
    limits,
    now,
    setTimer: deps.setTimer,
    errors: {
      rateLimited: () => errorFrame(ERROR.RATE_LIMITED, 'too many frames; slow down'),
      badFrame: reason => errorFrame(ERROR.BAD_FRAME, reason)
    },
    onText,
    ...(deps.frames === undefined ? {} : { frames: deps.frames }),
    exempt: data => startsWithAscii(data, CONSOLE_START) || startsWithAscii(data, STATS_START) ||
      STREAM_FRAME.test(typeof data === 'string' ? data.slice(0, 40) : data.toString('latin1', 0, 40)),
    onEnd () {
      state = 'closed'
      helloTimer.cancel()
      pacer?.cancel()
    }
  })
  // Acks, errors and commands all go through the kernel's bound: an agent that sends but never
  // reads is closed (1008) before its unread acks pile up in the hub.
  const send = (msg: HubMessage) => { conn.send(encode(msg)) }
  const error = (code: string, message: string, ref?: string) => { conn.send(errorFrame(code, message, ref)) }
  const close = (code: number, reason: string) => conn.close(code, reason)

  const helloTimer = deps.setTimer(() => { if (state === 'awaiting-hello') close(CLOSE.TIMEOUT, 'hello timeout') }, limits.helloTimeoutMs)

  // Handlers catch their own failures; this only guards against a bug escaping as an unhandled rejection.
  const fault = (err: unknown) => log.warn({ nodeId, err }, 'agent frame handler failed')

  const bad = (reason: string) => conn.bad(errorFrame(ERROR.BAD_FRAME, reason))

  async function onHello (msg: HelloMessage) {
    if (msg.protocol !== PROTOCOL_VERSION) {
      close(CLOSE.UNSUPPORTED_VERSION, `protocol ${msg.protocol} is not supported; this hub speaks ${PROTOCOL_VERSION}`)
      return
    }
    state = 'reconciling'
    helloTimer.cancel()
    const features = negotiateFeatures(msg.features, deps.features ?? [])
    try {
      const result = await deps.hello(msg, features)
      if (state !== 'reconciling') return
      for (const f of result.foreign) error(ERROR.NOT_YOUR_SERVER, 'this server is not on your node', `${f.serverId}:${f.seq}`)
      state = 'ready'
      negotiated = new Set(features ?? [])
      own = new Set(Object.keys(result.lastSeq))
      // welcome.features exactly when hello.features was sent (PROTOCOL.md 1.1).
      send({ type: 'welcome', protocol: PROTOCOL_VERSION, nodeId, heartbeatMs: limits.heartbeatMs, lastSeq: result.lastSeq, ...(features === undefined ? {} : { features }) })
      deps.onReady?.(msg)
    } catch (err) {
      log.warn({ nodeId, err }, 'hello failed')
      close(CLOSE.GOING_AWAY, 'hub could not record hello; reconnect')
    }
  }

  async function onStatus (msg: Extract<AgentMessage, { type: 'status' }>) {
    const ref = `${msg.serverId}:${msg.seq}`
    const at = Math.min(Date.parse(msg.at), now())
    const outcome = await deps.submit({ nodeId, serverId: msg.serverId, status: msg.status, seq: msg.seq, at: new Date(at), ...(msg.reason === undefined ? {} : { reason: msg.reason }) })
    if (outcome.ok) send({ type: 'status.ack', serverId: msg.serverId, seq: msg.seq })
    else error(outcome.code, outcome.message, ref)
  }

  async function onCommandReply (msg: Extract<AgentMessage, { type: 'command.ack' | 'command.result' }>) {
    const reply: CommandReply = msg.type === 'command.ack'
      ? { type: 'ack', nodeId, commandId: msg.commandId }
      : { type: 'result', nodeId, commandId: msg.commandId, ok: msg.ok, code: msg.error?.code ?? null, message: msg.error?.message ?? null }
    const outcome = deps.reply === undefined ? { kind: 'unknown' as const } : await deps.reply(reply)
    if (outcome.kind === 'unknown') error(ERROR.UNKNOWN_COMMAND, 'no such command for this node', msg.commandId)
    else if (outcome.kind === 'refused') error(ERROR.INTERNAL, 'the hub could not record this; resend later', msg.commandId)
    else if (outcome.kind === 'ignored') {
      // Duplicates are normal after a reconnect (at-least-once); late ones lose to a timeout.
      (log.info ?? log.warn).call(log, { nodeId, commandId: msg.commandId, type: msg.type, state: outcome.row.state }, 'command reply ignored: duplicate, late or after expiry')
    }
  }

  async function onConfigAck (msg: Extract<AgentMessage, { type: 'server.config.ack' }>) {
    const outcome = await (deps.configAck as NonNullable<AgentSessionDeps['configAck']>)({ serverId: msg.serverId, revision: msg.revision })
    if (outcome === 'unknown') error(ERROR.NOT_YOUR_SERVER, 'this server is not on your node', `${msg.serverId}:${msg.revision}`)
  }

  // Feature frames (server.config can be up to 48 KiB, and a node gets one per server at once
  // after welcome or a template change) are paced: sent while the socket holds at most half of the
  // send bound, the rest a moment later, so a burst of configurations never trips the bound that
  // closes a peer which does not read (1008) and then repeats at every reconnect. Keyed by server:
  // a newer frame for a server replaces one still waiting, so the wait is bounded by the node's servers.
  const paced = new Map<string, HubMessage>()
  let pacer: { cancel (): void } | undefined
  function pump (): void {
    pacer = undefined
    for (const [key, msg] of paced) {
      if (state !== 'ready') return
      const frame = encode(msg)
      if (conn.outbox.buffered() + frame.length > limits.maxBufferedBytes / 2) {
        pacer = deps.setTimer(pump, 20)
        return
      }
      paced.delete(key)
      conn.send(frame)
    }
  }

  function onStream (msg: ConsoleMessage | StatsMessage) {
    if (own.has(msg.serverId)) {
      deps.stream?.(msg, self)
      return
    }
    // A server created after hello (its config came by provisioning): asked once, then known.
    // Lookups are bounded by the stream budget, and a refusal is not remembered (it may be created).
    const refuse = () => error(ERROR.NOT_YOUR_SERVER, 'this server is not on your node', msg.serverId)
    if (deps.owns === undefined) return refuse()
    deps.owns(msg.serverId).then(yes => {
      if (state !== 'ready') return
      if (!yes) return refuse()
      own.add(msg.serverId)
      deps.stream?.(msg, self)
    }).catch(fault)
  }

  function onText (data: string | Buffer, exempt: boolean) {
    // Over the stream budget: dropped silently, before decoding (PROTOCOL.md 1.1).
    if (exempt && !streamBudget.take()) return
    const decoded = decodeAgentMessage(data, { maxBytes: limits.maxFrameBytes })
    if (!decoded.ok) return bad(decoded.error.reason)
    const msg = decoded.msg
    if (exempt && msg.type !== 'console' && msg.type !== 'stats') return bad(`${msg.type}: a frame must not pretend to be console or stats`)
    if (msg.type === 'hello') {
      if (state === 'awaiting-hello') onHello(msg).catch(fault)
      else error(ERROR.ALREADY_HELLO, 'hello was already received')
      return
    }
    if (state !== 'ready') return error(ERROR.NOT_READY, 'send hello and wait for welcome first')
    if (msg.type === 'status') onStatus(msg).catch(fault)
    else if (msg.type === 'command.ack' || msg.type === 'command.result') onCommandReply(msg).catch(fault)
    else if ((msg.type === 'console' || msg.type === 'stats') && negotiated.has(featureOfAgentFrame(msg.type) as Feature)) onStream(msg)
    else if (msg.type === 'server.config.ack' && negotiated.has('provision') && deps.configAck !== undefined) onConfigAck(msg).catch(fault)
    // A 1.1 frame (features.ts) of a feature this connection's welcome did not negotiate.
    else bad(`${msg.type}: feature ${featureOfAgentFrame(msg.type) ?? '?'} not negotiated`)
  }

  const self: AgentSession = {
    nodeId,
    hasFeature: f => negotiated.has(f),
    startsReplay: serverId => !replayed.has(serverId) && replayed.add(serverId) !== undefined,
    isReady: () => state === 'ready',
    owns: serverId => own.has(serverId),
    disown: serverId => { own.delete(serverId) },
    sendCommand: msg => { if (state === 'ready') send(msg) },
    sendFeature: (feature, msg) => {
      if (state !== 'ready' || !negotiated.has(feature)) return
      const key = 'serverId' in msg ? msg.serverId : msg.type
      paced.delete(key) // re-inserted last: a replaced frame keeps no older place in the line
      paced.set(key, msg)
      if (pacer === undefined) pump()
    },
    onFrame: (data, isBinary) => conn.onFrame(data, isBinary),
    onPong: () => conn.onPong(),
    onClosed: () => conn.onClosed(),
    close
  }
  return self
}
