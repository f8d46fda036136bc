/**
 * A node agent speaking the agent protocol (PROTOCOL.md, "Agent protocol" and "Close codes"), for
 * end-to-end tests, benchmarks and the load CLI. It does what a real agent must: hello snapshot
 * first, per-server seq, status acks, replay after a reconnect, at-least-once commands deduped by
 * commandId, backoff with full jitter, no reconnect after a terminal close.
 *
 * Thousands of clients share one process, so per-client state is small: one timer slot whose
 * meaning follows the state (handshake deadline while connecting, heartbeat deadline while ready,
 * backoff delay between connections, close deadline while closing), one ack timer per unacked
 * status, bounded outboxes and a bounded command memory. Callbacks, not an EventEmitter.
 *
 * Lifecycle: idle -connect()-> connecting -welcome-> ready -drop-> backoff -> connecting -> ...
 * and closed, which is final (close(), or a terminal close code or HTTP 401 after the first
 * welcome). connect() is one attempt: before the first welcome a failure rejects it and the client
 * goes back to idle; the caller decides whether to try again. After it, drops heal by themselves.
 */
import { performance } from 'node:perf_hooks'
import {
  DEFAULT_MAX_BYTES, PROTOCOL_VERSION, decodeHubMessage, encode, isLegalTransition, shouldReconnect,
  type AgentStatus, type CommandMessage, type CommandResultMessage, type ErrorMessage, type HelloServer, type StatusAckMessage,
  type StatusMessage, type WelcomeMessage
} from '../src/agent-protocol/index.ts'
import WebSocket from 'ws'
import { DEFAULT_BACKOFF, backoffDelay } from './backoff.ts'
import { AgentClientError } from './errors.ts'
import type { AgentClient, AgentClientOptions, AgentClientState, AgentLog, CommandOutcome } from './types.ts'

export { AgentClientError } from './errors.ts'
export type * from './types.ts'

interface Pending {
  seq: number
  status: AgentStatus
  /** Encoded once: a replay must carry the original `at`. */
  frame: string
  sentAt: number
  settled: boolean
  timer: NodeJS.Timeout | undefined
  resolve (ack: StatusAckMessage): void
  reject (err: Error): void
}

interface ServerState {
  status: AgentStatus
  seq: number
  /** Unacked statuses, in seq order. */
  outbox: Pending[]
}

const DEFAULT_TIMEOUT_MS = 10_000
const DEFAULT_MAX_PENDING = 64
/** Command ids remembered for dedupe. Re-deliveries come within one reconnect, so a few suffice. */
const REMEMBERED_COMMANDS = 256
const SILENT: AgentLog = { debug () {}, warn () {} }

export function createAgentClient (options: AgentClientOptions): AgentClient {
  const {
    url, token, agentVersion = 'agent-simulator', reconnect = DEFAULT_BACKOFF, random = Math.random,
    handshakeTimeoutMs = DEFAULT_TIMEOUT_MS, ackTimeoutMs = DEFAULT_TIMEOUT_MS,
    maxPendingPerServer = DEFAULT_MAX_PENDING, maxFrameBytes = DEFAULT_MAX_BYTES, log = SILENT
  } = options
  const servers = new Map<string, ServerState>()
  for (const { serverId, status, seq } of options.servers) servers.set(serverId, { status, seq, outbox: [] })
  // commandId -> its outcome, or null while it runs. Insertion order makes eviction FIFO.
  const commands = new Map<string, CommandOutcome | null>()

  let state: AgentClientState = 'idle'
  let socket: WebSocket | null = null
  let timer: NodeJS.Timeout | undefined
  let attempt = 0
  let welcomedOnce = false
  let negotiated: readonly string[] = []
  let firstConnect: { resolve (w: WelcomeMessage): void, reject (err: Error): void } | null = null
  let closing: Promise<void> | null = null
  // Why the current socket ended, when we ended it: read by its close handler.
  let refusedStatus: number | undefined
  let failure: { code: string, reason: string } | undefined

  function arm (ms: number, fn: () => void): void {
    clearTimeout(timer)
    timer = setTimeout(fn, ms)
  }

  function connect (): Promise<WelcomeMessage> {
    if (state !== 'idle') return Promise.reject(new AgentClientError('BAD_STATE', `connect() while ${state}`))
    const { promise, resolve, reject } = Promise.withResolvers<WelcomeMessage>()
    firstConnect = { resolve, reject }
    try {
      open()
    } catch (err) { // ws throws at once on a malformed URL
      state = 'idle'
      firstConnect = null
      clearTimeout(timer)
      reject(err)
    }
    return promise
  }

  function open (): void {
    state = 'connecting'
    refusedStatus = undefined
    failure = undefined
    const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}` }, maxPayload: maxFrameBytes })
    socket = ws
    arm(handshakeTimeoutMs, () => end(ws, 'HANDSHAKE_TIMEOUT', `no welcome within ${handshakeTimeoutMs} ms`))
    ws.on('open', () => ws.send(helloFrame()))
    // binaryType is never changed from 'nodebuffer', so data is always one Buffer.
    ws.on('message', (data) => { if (ws === socket) onFrame(data as Buffer) })
    // ws answers pings itself; a ping also proves the hub alive.
    ws.on('ping', () => { if (ws === socket && state === 'ready') timer?.refresh() })
    // Listening here stops ws from turning the refusal into a bare Error; we end the socket ourselves.
    ws.on('unexpected-response', (_req, res) => {
      refusedStatus = res.statusCode
      end(ws, 'UPGRADE_REFUSED', `upgrade refused with HTTP ${res.statusCode ?? '?'}`)
    })
    // Always followed by 'close', which decides what happens next; without a listener ws would throw.
    ws.on('error', (err) => log.debug({ err }, 'agent socket error'))
    ws.on('close', (code, reason) => onSocketClose(ws, code, failure?.reason ?? reason.toString()))
  }

  /** Ends a socket at once; `code` and `reason` tell its close handler why. */
  function end (ws: WebSocket, code: string, reason: string): void {
    failure ??= { code, reason }
    ws.terminate()
  }

  function helloFrame (): string {
    return encode({ type: 'hello', protocol: PROTOCOL_VERSION, agentVersion, servers: snapshot(), ...(options.features === undefined ? {} : { features: options.features }) })
  }

  function snapshot (): HelloServer[] {
    const list: HelloServer[] = []
    for (const [serverId, { status, seq }] of servers) list.push({ serverId, status, seq })
    return list
  }

  function onFrame (data: Buffer): void {
    if (state === 'ready') timer?.refresh() // any frame proves the hub alive
    const decoded = decodeHubMessage(data, { maxBytes: maxFrameBytes })
    if (!decoded.ok) {
      log.warn({ reason: decoded.error.reason }, 'agent: bad frame from hub ignored')
      return
    }
    const msg = decoded.msg
    switch (msg.type) {
      case 'welcome': return onWelcome(msg)
      case 'status.ack': return onStatusAck(msg)
      case 'command': return onCommandFrame(msg)
      case 'error': return onErrorFrame(msg)
    }
  }

  function onWelcome (welcome: WelcomeMessage): void {
    if (state !== 'connecting') return
    state = 'ready'
    attempt = 0
    welcomedOnce = true
    negotiated = welcome.features ?? []
    // The hub pings every heartbeatMs and gives up on a node after 2 x; we give up on it likewise,
    // so a half-open TCP connection cannot leave the agent waiting forever.
    const ws = socket as WebSocket
    arm(2 * welcome.heartbeatMs, () => end(ws, 'HEARTBEAT_LOST', 'heartbeat lost'))
    for (const [serverId, server] of servers) {
      const lastSeq = welcome.lastSeq[serverId] ?? 0
      // The hub may hold a greater seq than ours (an older agent on this node); ours must exceed it.
      if (lastSeq > server.seq) server.seq = lastSeq
      // Everything up to lastSeq is stored: the hello snapshot carried our latest status and seq.
      // What follows was queued after that hello was sent; replay it in order.
      while (server.outbox[0] !== undefined && server.outbox[0].seq <= lastSeq) {
        const entry = server.outbox.shift() as Pending
        settle(entry, null, { type: 'status.ack', serverId, seq: entry.seq })
      }
      for (const entry of server.outbox) transmit(entry)
    }
    firstConnect?.resolve(welcome)
    firstConnect = null
    options.onWelcome?.(welcome)
  }

  function transmit (entry: Pending): void {
    entry.sentAt = performance.now()
    socket?.send(entry.frame)
  }

  function onStatusAck (ack: StatusAckMessage): void {
    const entry = take(ack.serverId, ack.seq)
    // Absent: a duplicate ack, or one already settled by a welcome.
    if (entry === undefined) return
    options.onAck?.(performance.now() - entry.sentAt, ack, entry.status)
    settle(entry, null, ack)
  }

  function onErrorFrame (frame: ErrorMessage): void {
    options.onErrorFrame?.(frame)
    // A status is named "<serverId>:<seq>"; a command by its id, which has no colon.
    const colon = frame.ref?.lastIndexOf(':') ?? -1
    if (frame.ref === undefined || colon < 0) return
    // The hub dropped the status, so we drop it too; the next hello snapshot puts the hub right.
    const entry = take(frame.ref.slice(0, colon), Number(frame.ref.slice(colon + 1)))
    if (entry !== undefined) {
      settle(entry, new AgentClientError(frame.code, frame.message, { ref: frame.ref }))
    }
  }

  function take (serverId: string, seq: number): Pending | undefined {
    const outbox = servers.get(serverId)?.outbox
    const i = outbox?.findIndex((e) => e.seq === seq) ?? -1
    return i < 0 ? undefined : outbox?.splice(i, 1)[0]
  }

  function settle (entry: Pending, err: Error | null, ack?: StatusAckMessage): void {
    clearTimeout(entry.timer)
    if (entry.settled) return
    entry.settled = true
    if (err !== null) entry.reject(err)
    else entry.resolve(ack as StatusAckMessage)
  }

  function onCommandFrame (cmd: CommandMessage): void {
    // Ack every delivery: the hub re-sends until it sees one.
    sendIfReady(encode({ type: 'command.ack', commandId: cmd.commandId }))
    if (commands.has(cmd.commandId)) {
      // A re-delivery (at-least-once): never run it twice. If it finished, the hub missed the
      // result (sent on a connection that died, or while disconnected): send it again.
      const outcome = commands.get(cmd.commandId)
      if (outcome != null) sendResult(cmd.commandId, outcome)
      return
    }
    commands.set(cmd.commandId, null)
    if (commands.size > REMEMBERED_COMMANDS) commands.delete(commands.keys().next().value as string)
    // execute() catches onCommand's failures itself; this only guards the send.
    execute(cmd).catch((err: unknown) => log.warn({ err, commandId: cmd.commandId }, 'agent: command result not sent'))
  }

  async function execute (cmd: CommandMessage): Promise<void> {
    let outcome: CommandOutcome
    try {
      outcome = await (options.onCommand?.(cmd) ?? { ok: true })
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err)
      outcome = { ok: false, error: { code: 'AGENT_ERROR', message: message.slice(0, 1024) } }
    }
    if (commands.has(cmd.commandId)) commands.set(cmd.commandId, outcome)
    sendResult(cmd.commandId, outcome)
  }

  function sendResult (commandId: string, { ok, error }: CommandOutcome): void {
    const msg: CommandResultMessage = { type: 'command.result', commandId, ok }
    if (error !== undefined) msg.error = error
    sendIfReady(encode(msg))
  }

  function sendIfReady (frame: string): void {
    if (state === 'ready') socket?.send(frame)
  }

  function report (serverId: string, status: AgentStatus, reason?: string): Promise<StatusAckMessage> {
    const server = servers.get(serverId)
    if (server === undefined) throw new AgentClientError('UNKNOWN_SERVER', `server ${serverId} is not on this agent`)
    if (state === 'closed') throw new AgentClientError('CLIENT_CLOSED', 'client closed')
    if (!isLegalTransition(server.status, status)) {
      throw new AgentClientError('ILLEGAL_TRANSITION', `${server.status} -> ${status} is not a legal transition`)
    }
    if (server.outbox.length >= maxPendingPerServer) {
      throw new AgentClientError('OUTBOX_FULL', `${server.outbox.length} statuses of ${serverId} await an ack`)
    }
    server.status = status
    server.seq += 1
    const msg: StatusMessage = { type: 'status', serverId, status, seq: server.seq, at: new Date().toISOString() }
    if (reason !== undefined) msg.reason = reason
    const { promise, resolve, reject } = Promise.withResolvers<StatusAckMessage>()
    const entry: Pending = { seq: msg.seq, status, frame: encode(msg), sentAt: 0, settled: false, timer: undefined, resolve, reject }
    // On timeout the promise rejects but the entry stays: a late ack still reports its latency (the
    // slow tail is what a benchmark is after), and a reconnect still replays it.
    entry.timer = setTimeout(() => {
      settle(entry, new AgentClientError('ACK_TIMEOUT', `no status.ack for ${serverId}:${msg.seq} within ${ackTimeoutMs} ms`))
    }, ackTimeoutMs)
    server.outbox.push(entry)
    if (state === 'ready') transmit(entry)
    return promise
  }

  /** A 1.1 stream frame, only while ready and negotiated; never queued. */
  function sendStream (feature: string, frame: object): boolean {
    if (state !== 'ready' || socket?.readyState !== WebSocket.OPEN || !negotiated.includes(feature)) return false
    socket.send(JSON.stringify(frame))
    return true
  }

  function sendRaw (data: string | Buffer): void {
    if (socket?.readyState !== WebSocket.OPEN) throw new AgentClientError('NOT_CONNECTED', `sendRaw() while ${state}`)
    socket.send(data)
  }

  function drop (): void {
    // terminate() destroys the socket without sending a close frame: the hub sees a bare TCP end.
    if (socket !== null) end(socket, 'DROPPED', 'connection dropped')
  }

  function onSocketClose (ws: WebSocket, code: number, reason: string): void {
    if (ws !== socket) return
    socket = null
    clearTimeout(timer)
    const terminal = !shouldReconnect(code) || refusedStatus === 401
    const willReconnect = state !== 'closed' && welcomedOnce && !terminal
    if (firstConnect !== null) {
      firstConnect.reject(new AgentClientError(failure?.code ?? 'CONNECT_FAILED',
        `connect failed: ${reason === '' ? `closed with ${code}` : reason}`,
        { statusCode: refusedStatus, closeCode: code }))
      firstConnect = null
    }
    if (willReconnect) {
      state = 'backoff'
      const delay = backoffDelay(attempt, reconnect, random)
      options.onReconnect?.(attempt, delay)
      attempt++
      arm(delay, open)
    } else if (state === 'closed' || welcomedOnce) {
      shutdown(new AgentClientError('CLIENT_CLOSED', `client closed (${code}${reason === '' ? '' : ` ${reason}`})`, { closeCode: code }))
    } else {
      state = 'idle'
    }
    // Last, so that a callback sees the client's next state and may act on it.
    options.onClose?.({ code, reason, willReconnect })
  }

  /** Final: reject whatever still waits, so no promise and no timer outlives the client. */
  function shutdown (err: AgentClientError): void {
    state = 'closed'
    clearTimeout(timer)
    firstConnect?.reject(err)
    firstConnect = null
    for (const server of servers.values()) {
      for (const entry of server.outbox) settle(entry, err)
      server.outbox.length = 0
    }
  }

  function close (): Promise<void> {
    closing ??= closeNow()
    return closing
  }

  function closeNow (): Promise<void> {
    const ws = socket
    shutdown(new AgentClientError('CLIENT_CLOSED', 'client closed'))
    if (ws === null) return Promise.resolve()
    const { promise, resolve } = Promise.withResolvers<void>()
    ws.once('close', () => resolve())
    // A hub that never answers our close frame must not hold us up.
    arm(handshakeTimeoutMs, () => ws.terminate())
    ws.close(1000, 'agent closing')
    return promise
  }

  return {
    get state () { return state },
    connect,
    report,
    sendRaw,
    sendConsole: (serverId, lines, replay) => sendStream('console', { type: 'console', serverId, lines, ...(replay === true ? { replay: true } : {}) }),
    sendStats: ({ at, ...rest }) => sendStream('stats', { type: 'stats', at: at ?? new Date().toISOString(), ...rest }),
    get features () { return negotiated },
    snapshot,
    drop,
    close
  }
}
