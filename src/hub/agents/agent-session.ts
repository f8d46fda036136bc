// One agent connection, after authentication: hello → welcome, status ingest, heartbeats,
// rate limits and bad-frame accounting. Knows nothing of Fastify or ws (see transport.ts).
import {
  CLOSE, ERROR, PROTOCOL_VERSION, decodeAgentMessage, encode,
  type AgentMessage, type HelloMessage, type HubMessage
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
  log: { warn (obj: object, msg: string): void }
}

export interface AgentSession {
  readonly nodeId: string
  onFrame (data: string | Buffer, isBinary: boolean): void
  onPong (): void
  /** The transport closed (for whatever reason): stop timers. */
  onClosed (): void
  close (code: number, reason: string): void
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

  return {
    nodeId,
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
      // Commands are not dispatched yet, so no commandId can be this node's.
      else error(ERROR.UNKNOWN_COMMAND, 'no such command for this node', msg.commandId)
    },
    onPong () { lastSeen = now() },
    onClosed () {
      state = 'closed'
      stopTimers()
    },
    close
  }
}
