// One agent connection, after authentication: hello → welcome, status ingest, heartbeats,
// rate limits and bad-frame accounting. Knows nothing of Fastify or ws (see transport.ts).
import {
  CLOSE, ERROR, PROTOCOL_VERSION, decodeAgentMessage, encode, featureOfAgentFrame,
  type AgentMessage, type CommandMessage, type HelloMessage, type HubMessage
} from '../../agent-protocol/index.ts'
import type { Transport } from './transport.ts'
import { createTokenBucket } from '../token-bucket.ts'
import type { HelloResult } from './hello.ts'
import type { IngestOutcome, StatusReport } from './status-ingest.ts'

export interface AgentSessionLimits {
  heartbeatMs: number
  helloTimeoutMs: number
  maxFrameBytes: number
  ratePerSecond: number
  burst: number
  /** Bad frames tolerated before the connection is closed with 4400. */
  maxBadFrames: number
  /** Rate-limited frames tolerated before the connection is closed with 4429. */
  maxLimitedFrames: number
}

export interface AgentSessionDeps {
  nodeId: string
  transport: Transport
  limits: AgentSessionLimits
  now: () => number
  setTimer: (fn: () => void, ms: number) => { cancel (): void }
  hello: (msg: HelloMessage) => Promise<HelloResult>
  submit: (report: StatusReport) => Promise<IngestOutcome>
  /** A `command.ack` or `command.result` of this node, to be recorded. */
  reply?: (reply: CommandReply) => Promise<CommandReplyOutcome>
  /** The session became ready (welcome sent): pending commands go out now. */
  onReady?: () => void
  log: { warn (obj: object, msg: string): void, info? (obj: object, msg: string): void }
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
}

export function createAgentSession (deps: AgentSessionDeps): AgentSession {
  const { nodeId, transport, limits, now, log } = deps
  let state: 'awaiting-hello' | 'reconciling' | 'ready' | 'closed' = 'awaiting-hello'
  let badFrames = 0
  let limitedFrames = 0
  let lastSeen = now()
  const bucket = createTokenBucket(limits.ratePerSecond, limits.burst, now)

  const send = (msg: HubMessage) => { if (state !== 'closed') transport.send(encode(msg)) }
  const error = (code: string, message: string, ref?: string) => send({ type: 'error', code, message, ...(ref === undefined ? {} : { ref }) })

  function close (code: number, reason: string) {
    if (state === 'closed') return
    state = 'closed'
    stopTimers()
    transport.close(code, reason)
  }

  const helloTimer = deps.setTimer(() => { if (state === 'awaiting-hello') close(CLOSE.TIMEOUT, 'hello timeout') }, limits.helloTimeoutMs)
  // Every heartbeat: the peer must have been heard from (any frame or pong) within 2 intervals.
  let heartbeat = deps.setTimer(beat, limits.heartbeatMs)
  function beat () {
    if (now() - lastSeen > 2 * limits.heartbeatMs) {
      close(CLOSE.TIMEOUT, 'heartbeat lost')
      return
    }
    transport.ping()
    heartbeat = deps.setTimer(beat, limits.heartbeatMs)
  }
  function stopTimers () {
    helloTimer.cancel()
    heartbeat.cancel()
  }

  // Handlers catch their own failures; this only guards against a bug escaping as an unhandled rejection.
  const fault = (err: unknown) => log.warn({ nodeId, err }, 'agent frame handler failed')

  function bad (reason: string) {
    error(ERROR.BAD_FRAME, reason)
    if (++badFrames > limits.maxBadFrames) close(CLOSE.PROTOCOL_ERROR, 'too many bad frames')
  }

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
      send({ type: 'welcome', protocol: PROTOCOL_VERSION, nodeId, heartbeatMs: limits.heartbeatMs, lastSeq: result.lastSeq })
      deps.onReady?.()
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

  return {
    nodeId,
    isReady: () => state === 'ready',
    sendCommand: msg => { if (state === 'ready') send(msg) },
    onFrame (data, isBinary) {
      if (state === 'closed') return
      lastSeen = now()
      if (!bucket.take()) {
        error(ERROR.RATE_LIMITED, 'too many frames; slow down')
        if (++limitedFrames > limits.maxLimitedFrames) close(CLOSE.RATE_LIMITED, 'rate limited')
        return
      }
      if (isBinary) {
        bad('binary frames are not accepted')
        return
      }
      const decoded = decodeAgentMessage(data, { maxBytes: limits.maxFrameBytes })
      if (!decoded.ok) {
        bad(decoded.error.reason)
        return
      }
      const msg = decoded.msg
      if (msg.type === 'hello') {
        if (state === 'awaiting-hello') onHello(msg).catch(fault)
        else error(ERROR.ALREADY_HELLO, 'hello was already received')
        return
      }
      if (state !== 'ready') {
        error(ERROR.NOT_READY, 'send hello and wait for welcome first')
        return
      }
      if (msg.type === 'status') onStatus(msg).catch(fault)
      else if (msg.type === 'command.ack' || msg.type === 'command.result') onCommandReply(msg).catch(fault)
      // A 1.1 frame (features.ts) of a feature this connection's welcome did not negotiate.
      else bad(`${msg.type}: feature ${featureOfAgentFrame(msg.type) ?? '?'} not negotiated`)
    },
    onPong () { lastSeen = now() },
    onClosed () {
      state = 'closed'
      stopTimers()
    },
    close
  }
}
