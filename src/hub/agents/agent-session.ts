// One agent connection, after authentication: hello → welcome, status ingest, command replies.
// Heartbeats, rate limits, bad-frame accounting, the bounded send path and closing are the
// connection kernel's (connection/connection.ts); like it, this knows nothing of Fastify or ws.
import {
  CLOSE, ERROR, PROTOCOL_VERSION, decodeAgentMessage, encode, featureOfAgentFrame, negotiateFeatures,
  type AgentMessage, type CommandMessage, type Feature, type HelloMessage, type HubMessage
} from '../../agent-protocol/index.ts'
import { createConnection, type ConnectionLimits } from '../connection/connection.ts'
import type { Log, SetTimer, Transport } from '../connection/types.ts'
import type { HelloResult } from './hello.ts'
import type { IngestOutcome, StatusReport } from './status-ingest.ts'

export interface AgentSessionLimits extends ConnectionLimits {
  helloTimeoutMs: number
  maxFrameBytes: number
}

export interface AgentSessionDeps {
  nodeId: string
  transport: Transport
  limits: AgentSessionLimits
  now: () => number
  setTimer: SetTimer
  hello: (msg: HelloMessage) => Promise<HelloResult>
  submit: (report: StatusReport) => Promise<IngestOutcome>
  /** A `command.ack` or `command.result` of this node, to be recorded. */
  reply?: (reply: CommandReply) => Promise<CommandReplyOutcome>
  /** The session became ready (welcome sent): configurations, then pending commands, go out now. */
  onReady?: (hello: HelloMessage) => void
  /** 1.1 features this hub enables; `welcome.features` is their intersection with `hello.features`. */
  features?: readonly Feature[]
  /** A `server.config.ack` (feature `provision`), to be recorded. */
  configAck?: (ack: { serverId: string, revision: number }) => Promise<'applied' | 'stale' | 'unknown'>
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
  sendCommand (msg: CommandMessage): void
  /** True once `welcome.features` included this feature. */
  hasFeature (feature: string): boolean
  /** A frame of a negotiated feature (`server.config`, `server.removed`); dropped otherwise. */
  sendFeature (feature: string, msg: HubMessage): void
}

export function createAgentSession (deps: AgentSessionDeps): AgentSession {
  const { nodeId, transport, limits, now, log } = deps
  let state: 'awaiting-hello' | 'reconciling' | 'ready' | 'closed' = 'awaiting-hello'
  let negotiated: ReadonlySet<string> = new Set()
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
    onEnd () {
      state = 'closed'
      helloTimer.cancel()
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
    try {
      const result = await deps.hello(msg)
      if (state !== 'reconciling') return
      for (const f of result.foreign) error(ERROR.NOT_YOUR_SERVER, 'this server is not on your node', `${f.serverId}:${f.seq}`)
      state = 'ready'
      const features = negotiateFeatures(msg.features, deps.features ?? [])
      negotiated = new Set(features)
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

  function onText (data: string | Buffer) {
    const decoded = decodeAgentMessage(data, { maxBytes: limits.maxFrameBytes })
    if (!decoded.ok) return bad(decoded.error.reason)
    const msg = decoded.msg
    if (msg.type === 'hello') {
      if (state === 'awaiting-hello') onHello(msg).catch(fault)
      else error(ERROR.ALREADY_HELLO, 'hello was already received')
      return
    }
    if (state !== 'ready') return error(ERROR.NOT_READY, 'send hello and wait for welcome first')
    if (msg.type === 'status') onStatus(msg).catch(fault)
    else if (msg.type === 'command.ack' || msg.type === 'command.result') onCommandReply(msg).catch(fault)
    else if (msg.type === 'server.config.ack' && negotiated.has('provision') && deps.configAck !== undefined) onConfigAck(msg).catch(fault)
    // A 1.1 frame (features.ts) of a feature this connection's welcome did not negotiate.
    else bad(`${msg.type}: feature ${featureOfAgentFrame(msg.type) ?? '?'} not negotiated`)
  }

  return {
    nodeId,
    isReady: () => state === 'ready',
    sendCommand: msg => { if (state === 'ready') send(msg) },
    hasFeature: feature => state === 'ready' && negotiated.has(feature),
    sendFeature: (feature, msg) => { if (state === 'ready' && negotiated.has(feature)) send(msg) },
    onFrame: (data, isBinary) => conn.onFrame(data, isBinary),
    onPong: () => conn.onPong(),
    onClosed: () => conn.onClosed(),
    close
  }
}
