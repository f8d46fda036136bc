// The agent's connection to its hub(s) (PROTOCOL.md, "Agent protocol" and "Version 1.1
// additions"): hello with the snapshot and features, welcome, status replay and acks, commands
// (acked at once, run once, answered with command.result), server.config / server.removed, and the
// console and stats producers once negotiated. One connection at a time; after any failure it
// waits a full-jitter backoff delay and tries the next URL of AGENT_HUB_URL, so a farm of hubs
// behind several addresses keeps the node reachable. State that must survive (seq, unacked
// statuses, command outcomes) lives in the supervisor, so it holds across hubs and agent restarts.
import WebSocket from 'ws'
import { CLOSE, DEFAULT_MAX_BYTES, FEATURES, PROTOCOL_VERSION, decodeHubMessage, safeParse, shouldReconnect } from '../agent-protocol/index.ts'
import { DEFAULT_BACKOFF, backoffDelay, type BackoffOptions } from '../../agent-simulator/backoff.ts'
import { chunkLines } from './console-buffer.ts'
import type { CommandRequest } from './supervisor.ts'
import type { AgentLogger, OutboxEntry, Outcome } from './types.ts'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

/** What this agent speaks: every feature of protocol 1.1. */
export const AGENT_FEATURES = FEATURES

/** What the link asks of the rest of the agent (the supervisor, in production). */
export interface LinkHandler {
  snapshot (): Array<{ serverId: string, status: string, seq: number, configRevision?: number }>
  welcomed (lastSeq: Record<string, number>): Array<{ serverId: string, entry: OutboxEntry }>
  acked (serverId: string, seq: number): void
  execute (cmd: CommandRequest): Promise<Outcome> | null
  applyConfig (raw: unknown): { ok: true, serverId: string, revision: number } | { ok: false, reason: string }
  remove (serverId: string): Promise<void>
  /** Every server's buffered output, replayed after each welcome. */
  replay (): Array<{ serverId: string, lines: string[] }>
}

export interface HubLinkOptions {
  urls: string[]
  token: string
  agentVersion: string
  handler: LinkHandler
  log: AgentLogger
  backoff?: BackoffOptions
  random?: () => number
  handshakeTimeoutMs?: number
  maxFrameBytes?: number
  /** The hub refused us for good (bad token, unsupported version, replaced): no reconnecting. */
  onTerminal?: (reason: string) => void
  onWelcome?: (info: { url: string, nodeId: string, features: string[] }) => void
}

export function createHubLink (options: HubLinkOptions) {
  const { urls, token, handler, log, backoff = DEFAULT_BACKOFF, random = Math.random, handshakeTimeoutMs = 10_000, maxFrameBytes = DEFAULT_MAX_BYTES } = options
  let socket: WebSocket | null = null
  let ready = false
  let closed = false
  let urlIndex = 0
  let attempt = 0
  let timer: NodeJS.Timeout | undefined
  let features = new Set<string>()
  let refusedStatus: number | undefined

  function arm (ms: number, fn: () => void): void {
    clearTimeout(timer)
    timer = setTimeout(fn, ms)
  }

  function open (): void {
    if (closed) return
    const url = urls[urlIndex % urls.length] as string
    ready = false
    refusedStatus = undefined
    let ws: WebSocket
    try {
      ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}` }, maxPayload: maxFrameBytes })
    } catch (err) {
      log.error({ url, err }, 'hub URL refused')
      return scheduleReconnect()
    }
    socket = ws
    arm(handshakeTimeoutMs, () => ws.terminate())
    ws.on('open', () => {
      ws.send(JSON.stringify({
        type: 'hello', protocol: PROTOCOL_VERSION, agentVersion: options.agentVersion, servers: handler.snapshot(), features: [...AGENT_FEATURES]
      }))
    })
    ws.on('message', (data, isBinary) => {
      if (ws !== socket || isBinary) return
      if (ready) timer?.refresh()
      try {
        onFrame(data as Buffer, url)
      } catch (err) {
        // A frame the agent cannot handle must never take it down (issue 11, item 9).
        log.error({ err }, 'hub frame handling failed')
      }
    })
    ws.on('ping', () => { if (ws === socket && ready) timer?.refresh() })
    ws.on('unexpected-response', (_req, res) => {
      refusedStatus = res.statusCode
      ws.terminate()
    })
    ws.on('error', (err) => log.debug({ err: err.message, url }, 'hub socket error'))
    ws.on('close', (code, reason) => onClose(ws, url, code, reason.toString()))
  }

  function onFrame (data: Buffer, url: string): void {
    const parsed = safeParse(data.toString('utf8'), { maxDepth: 16 })
    if (!parsed.ok || typeof parsed.value !== 'object' || parsed.value === null) {
      log.warn({ reason: parsed.ok ? 'not an object' : parsed.reason }, 'bad frame from hub ignored')
      return
    }
    const frame = parsed.value as Record<string, unknown>
    switch (frame.type) {
      case 'server.config': return onServerConfig(frame)
      case 'server.removed': return onServerRemoved(frame)
      // Checked here rather than by the codec's enumeration of actions: an action this agent does
      // not know must still be acked and answered (FEATURE_UNSUPPORTED), not ignored until it times out.
      case 'command': return onCommandFrame(frame)
    }
    const decoded = decodeHubMessage(data, { maxBytes: maxFrameBytes })
    if (!decoded.ok) {
      log.warn({ reason: decoded.error.reason }, 'bad frame from hub ignored')
      return
    }
    const msg = decoded.msg
    switch (msg.type) {
      case 'welcome': return onWelcome(msg as typeof msg & { features?: unknown }, url)
      case 'status.ack': return handler.acked(msg.serverId, msg.seq)
      case 'error': return onError(msg)
    }
  }

  function onWelcome (welcome: { nodeId: string, heartbeatMs: number, lastSeq: Record<string, number>, features?: unknown }, url: string): void {
    if (ready) return
    ready = true
    attempt = 0
    features = new Set(Array.isArray(welcome.features) ? welcome.features.filter((f): f is string => typeof f === 'string') : [])
    const ws = socket as WebSocket
    // The hub pings every heartbeatMs and drops a node silent for 2 x; we give up on it likewise.
    arm(2 * welcome.heartbeatMs, () => ws.terminate())
    for (const { serverId, entry } of handler.welcomed(welcome.lastSeq)) sendStatus(serverId, entry)
    if (features.has('console')) {
      for (const { serverId, lines } of handler.replay()) {
        for (const frame of chunkLines(lines)) send({ type: 'console', serverId, lines: frame, replay: true })
      }
    }
    log.info({ url, nodeId: welcome.nodeId, features: [...features] }, 'connected to hub')
    options.onWelcome?.({ url, nodeId: welcome.nodeId, features: [...features] })
  }

  function onCommandFrame (frame: Record<string, unknown>): void {
    const { commandId, serverId, action, input } = frame
    if (typeof commandId !== 'string' || !UUID.test(commandId) || typeof serverId !== 'string' || typeof action !== 'string') {
      log.warn({ commandId: String(commandId).slice(0, 64) }, 'bad command frame from hub ignored')
      return
    }
    onCommand({ commandId, serverId, action: action.slice(0, 32), input })
  }

  function onCommand (cmd: { commandId: string, serverId: string, action: string, input?: unknown }): void {
    send({ type: 'command.ack', commandId: cmd.commandId })
    const request: CommandRequest = { commandId: cmd.commandId, serverId: cmd.serverId, action: cmd.action }
    if (typeof cmd.input === 'string') request.input = cmd.input
    const pending = handler.execute(request)
    pending?.then((outcome) => {
      const result: Record<string, unknown> = { type: 'command.result', commandId: cmd.commandId, ok: outcome.ok }
      if (outcome.error !== undefined) result.error = outcome.error
      send(result) // lost if the connection dropped meanwhile: the hub re-sends, the repeat answers
    }, (err: unknown) => log.error({ err, commandId: cmd.commandId }, 'command failed'))
  }

  function onServerConfig (frame: Record<string, unknown>): void {
    const result = handler.applyConfig(frame)
    if (!result.ok) {
      log.warn({ serverId: String(frame.serverId).slice(0, 64), reason: result.reason }, 'server.config refused')
      return
    }
    send({ type: 'server.config.ack', serverId: result.serverId, revision: result.revision })
  }

  function onServerRemoved (frame: Record<string, unknown>): void {
    const serverId = frame.serverId
    if (typeof serverId !== 'string') return
    handler.remove(serverId).then(
      () => log.info({ serverId }, 'server removed'),
      (err: unknown) => log.error({ err, serverId }, 'server removal failed'))
  }

  function onError (frame: { code: string, message: string, ref?: string }): void {
    log.warn({ code: frame.code, message: frame.message, ref: frame.ref }, 'hub refused a frame')
    // "<serverId>:<seq>" names a status: the hub dropped it (or will never take it), so do we;
    // the next hello snapshot puts the hub right.
    const colon = frame.ref?.lastIndexOf(':') ?? -1
    if (frame.ref !== undefined && colon > 0 && frame.code !== 'INTERNAL' && frame.code !== 'RATE_LIMITED') {
      const seq = Number(frame.ref.slice(colon + 1))
      if (Number.isInteger(seq)) handler.acked(frame.ref.slice(0, colon), seq)
    }
  }

  function onClose (ws: WebSocket, url: string, code: number, reason: string): void {
    if (ws !== socket) return
    socket = null
    ready = false
    clearTimeout(timer)
    if (closed) return
    const terminal = !shouldReconnect(code) || refusedStatus === 401
    if (terminal) {
      const why = refusedStatus === 401 ? 'the hub refused the token (HTTP 401)' : `closed with ${code}${reason === '' ? '' : ` ${reason}`}`
      log.error({ url, code }, `hub connection ended for good: ${why}`)
      closed = true
      options.onTerminal?.(why)
      return
    }
    log.warn({ url, code, reason, status: refusedStatus }, 'hub connection lost')
    scheduleReconnect()
  }

  function scheduleReconnect (): void {
    urlIndex++ // the next hub, round-robin
    const delay = backoffDelay(attempt++, backoff, random)
    arm(delay, open)
  }

  function send (msg: object): void {
    if (ready && socket?.readyState === WebSocket.OPEN) socket.send(JSON.stringify(msg))
  }

  function sendStatus (serverId: string, entry: OutboxEntry): void {
    const msg: Record<string, unknown> = { type: 'status', serverId, status: entry.status, seq: entry.seq, at: entry.at }
    if (entry.reason !== undefined && entry.reason !== '') msg.reason = entry.reason
    send(msg)
  }

  return {
    start: open,
    get ready () { return ready },
    get features (): ReadonlySet<string> { return features },
    sendStatus,
    sendConsole (serverId: string, lines: string[]): void {
      if (features.has('console')) send({ type: 'console', serverId, lines })
    },
    sendStats (sample: object): void {
      if (features.has('stats')) send({ type: 'stats', ...sample })
    },
    /** Ends the connection (1000) and stops reconnecting. */
    async close (): Promise<void> {
      closed = true
      clearTimeout(timer)
      const ws = socket
      if (ws === null) return
      const done = new Promise<void>((resolve) => ws.once('close', () => resolve()))
      const force = setTimeout(() => ws.terminate(), 2_000)
      ws.close(1000, 'agent closing')
      await done
      clearTimeout(force)
    }
  }
}

export type HubLink = ReturnType<typeof createHubLink>

/** Close codes after which the agent stops for good; re-exported for main.ts's exit status. */
export const TERMINAL_CODES = [CLOSE.UNAUTHORIZED, CLOSE.UNSUPPORTED_VERSION, CLOSE.REPLACED]
