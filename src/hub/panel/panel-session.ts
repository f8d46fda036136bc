// One panel connection, after authentication: frames in (subscribe, unsubscribe, ping), events
// out, session expiry. Heartbeats, rate and bad-frame limits, the bounded send path (every frame,
// direct replies included) and closing are the connection kernel's (connection/connection.ts);
// like it, this knows nothing of Fastify or ws; the registry (panel-registry.ts) indexes it and feeds it the events its
// subscriptions match. What it watches, and subscribe with snapshot and replay (with the
// ordering argument), live in panel-subscriptions.ts; backpressure in panel-outbox.ts.
import { CLOSE } from '../../agent-protocol/codes.ts'
import { canUseConsole, canViewServer, type Principal } from '../rbac.ts'
import type { ConsoleHub } from '../console/console-hub.ts'
import type { FrameMeter } from '../connection/frame-meter.ts'
import { createConnection } from '../connection/connection.ts'
import type { Transport } from '../connection/types.ts'
import { PANEL_ERROR, decodePanelMessage, type ConsoleSendMessage, type HubToPanel, type RequestIdValue, type SubscribeMessage, type UnsubscribeMessage } from './messages.ts'
import { createOutbox } from './panel-outbox.ts'
import { createSubscriptions } from './panel-subscriptions.ts'
import type { PanelAuth, PanelLimits, PanelSession, PanelStore, SetTimer, SubscriptionIndex, Timer } from './types.ts'

export type { PanelSession, SubscriptionIndex }

export interface PanelSessionDeps {
  auth: PanelAuth
  transport: Transport
  /** Counts this connection's frames by type (hub_ws_frames_total). */
  frames?: FrameMeter
  store: PanelStore
  index: SubscriptionIndex
  limits: PanelLimits
  now: () => number
  setTimer: SetTimer
  log: { warn (obj: object, msg: string): void }
  /** Console and stats (PROTOCOL.md 1.1); absent: the panel speaks v1 only. */
  streams?: PanelStreams
}

export interface PanelStreams {
  hub: ConsoleHub
  features: string[]
  /** console.send: a COMMAND action, with the REST route's rules. */
  send (principal: Principal, serverId: string, input: string): Promise<{ ok: true, actionId: string } | { ok: false, code: string, message: string, retryAfterMs?: number }>
}

/** setTimeout cannot wait longer than 2^31-1 ms; longer waits are re-armed. */
const MAX_TIMER_MS = 2_147_483_647

export function createPanelSession (deps: PanelSessionDeps): PanelSession {
  const { auth, transport, store, index, limits, now, setTimer, log } = deps
  let principal = auth.principal
  let work: Promise<void> = Promise.resolve()
  const errorFrame = (code: string, message: string, id?: RequestIdValue, data?: { servers?: string[], nodes?: string[], console?: string[], retryAfterMs?: number }) =>
    JSON.stringify({ type: 'error', ...(id === undefined ? {} : { id }), code, message, ...(data === undefined ? {} : { data }) })
  const conn = createConnection({
    transport,
    limits,
    now,
    setTimer,
    errors: {
      rateLimited: () => errorFrame(PANEL_ERROR.RATE_LIMITED, 'too many frames; slow down'),
      badFrame: reason => errorFrame(PANEL_ERROR.BAD_FRAME, reason)
    },
    onText,
    ...(deps.frames === undefined ? {} : { frames: deps.frames }),
    onEnd () {
      deps.streams?.hub.detach(self)
      expiry.cancel()
      outbox.stop()
      subs.stop()
      index.detach(self)
    }
  })
  // Direct replies (`subscribed` snapshots, `pong`, `error`, `resync`) go through the same bound
  // as events: a panel that never reads and keeps asking is closed, not buffered for.
  const send = (msg: HubToPanel) => { conn.send(JSON.stringify(msg)) }
  const error = (code: string, message: string, id?: RequestIdValue, data?: { servers?: string[], nodes?: string[], console?: string[], retryAfterMs?: number }) => { conn.send(errorFrame(code, message, id, data)) }
  const close = (code: number, reason: string) => conn.close(code, reason)

  // The session's end closes the socket, on every hub holding one, without any notification.
  let expiry: Timer = { cancel () {} }
  const armExpiry = () => {
    const left = auth.expiresAt.getTime() - now()
    if (left <= 0) return close(CLOSE.UNAUTHORIZED, 'session expired')
    expiry = setTimer(armExpiry, Math.min(left, MAX_TIMER_MS))
  }

  const outbox = createOutbox({
    out: conn.outbox,
    limits,
    now,
    setTimer,
    matches: e => subs.matches(e),
    sendResync: reason => send({ type: 'resync', reason }),
    onStall: () => close(CLOSE.POLICY, 'too slow: events could not be delivered')
  })

  // ---- frames in ----

  const bad = (reason: string, id?: RequestIdValue) => conn.bad(errorFrame(PANEL_ERROR.BAD_FRAME, reason, id))
  const fault = (err: unknown) => log.warn({ userId: auth.principal.userId, err }, 'panel frame handler failed')
  /** Subscribes and unsubscribes run one at a time, in arrival order. */
  const serial = (fn: () => unknown) => { work = work.then(fn).then(() => {}, fault) }

  function onText (data: string | Buffer) {
    const decoded = decodePanelMessage(data, { maxBytes: limits.maxFrameBytes })
    if (!decoded.ok) return bad(decoded.error.reason)
    const msg = decoded.msg
    if (msg.type === 'ping') send({ type: 'pong', id: msg.id })
    else if (msg.type === 'subscribe') serial(async () => await subscribe(msg))
    else if (msg.type === 'console.send') consoleSend(msg).catch(fault)
    else serial(() => unsubscribe(msg))
  }

  // ---- console and stats (PROTOCOL.md 1.1) ----

  async function subscribe (msg: SubscribeMessage) {
    const streams = deps.streams
    const wants = msg.console === true || msg.stats === true
    if (!wants || streams === undefined) return await subs.subscribe(msg)
    const ids = msg.servers ?? []
    if (msg.console === true && ids.length > 0) {
      // The whole frame is refused when any server's console is not the caller's to read.
      const access = await store.serverAccess(ids)
      const denied = ids.filter(id => { const a = access.get(id); return a === undefined || !canUseConsole(principal, a) })
      if (denied.length > 0) return error(PANEL_ERROR.FORBIDDEN, 'servers.console (or ownership) is needed for these consoles', msg.id)
    }
    await subs.subscribe(msg)
    const watched = new Set(subs.serverIds())
    if (conn.closed || !ids.every(id => watched.has(id))) return // refused (the error was sent)
    streams.hub.subscribe(self, ids, { console: msg.console, stats: msg.stats })
  }

  function unsubscribe (msg: UnsubscribeMessage) {
    if (msg.console === true || msg.stats === true) {
      deps.streams?.hub.unsubscribe(self, msg.servers ?? [], { console: msg.console, stats: msg.stats })
      return
    }
    deps.streams?.hub.unsubscribe(self, msg.servers ?? [], { console: true, stats: true })
    subs.unsubscribe(msg)
  }

  async function consoleSend (msg: ConsoleSendMessage) {
    const streams = deps.streams
    if (streams === undefined) return bad('console.send: feature console not enabled', msg.id)
    const access = (await store.serverAccess([msg.serverId])).get(msg.serverId)
    if (access === undefined || (!canViewServer(principal, access) && !canUseConsole(principal, access))) return error(PANEL_ERROR.NOT_FOUND, 'server not found', msg.id)
    if (!canUseConsole(principal, access)) return error(PANEL_ERROR.FORBIDDEN, 'servers.console (or ownership) is required', msg.id)
    const out = await streams.send(principal, msg.serverId, msg.input)
    if (out.ok) send({ type: 'console.sent', id: msg.id, actionId: out.actionId })
    else error(out.code, out.message, msg.id, out.retryAfterMs === undefined ? undefined : { retryAfterMs: out.retryAfterMs })
  }

  /** servers.console revoked (or ownership lost): end those console subscriptions; the status stream stays. */
  async function recheckConsoles () {
    const streams = deps.streams
    const watched = streams?.hub.watchedConsoles(self) ?? []
    if (streams === undefined || watched.length === 0) return
    const access = await store.serverAccess(watched)
    const lost = watched.filter(id => { const a = access.get(id); return a === undefined || !canUseConsole(principal, a) })
    if (lost.length === 0) return
    streams.hub.unsubscribe(self, lost, { console: true })
    error(PANEL_ERROR.FORBIDDEN, 'your access to these consoles was revoked', undefined, { console: lost })
  }

  const self: PanelSession = {
    userId: auth.principal.userId,
    sessionId: auth.sessionId,
    get principal () { return principal },
    get closed () { return conn.closed },
    onFrame: (data, isBinary) => conn.onFrame(data, isBinary),
    onPong: () => conn.onPong(),
    onClosed: () => conn.onClosed(),
    close,
    sendEphemeral: (key, frame) => conn.outbox.ephemeral(key, frame),
    takeDropped: () => conn.outbox.takeDropped(),
    deliver (events) {
      if (conn.closed) return
      if (!subs.hold(events)) outbox.emit(events)
    },
    resync (reason) {
      send({ type: 'resync', reason })
    },
    updatePrincipal (next) {
      principal = next
      subs.updatePrincipal(next)
      serial(recheckConsoles)
    },
    recheckServers: (access, serverIds) => subs.recheckServers(access, serverIds),
    serverIds: () => subs.serverIds(),
    stats: () => ({ buffered: transport.bufferedAmount(), coalesced: outbox.coalescedCount(), pending: subs.pendingCount(), overflowed: outbox.overflowed(), lastSent: String(outbox.lastSent()) })
  }
  const subs = createSubscriptions({
    session: self,
    index,
    store,
    limits,
    transport: { bufferedAmount: () => conn.outbox.buffered() },
    outbox,
    principal: () => principal,
    closed: () => conn.closed,
    send,
    error,
    bad,
    log
  })
  armExpiry()
  send({ type: 'ready', userId: auth.principal.userId, expiresAt: auth.expiresAt, ...(deps.streams === undefined ? {} : { features: deps.streams.features }) })
  return self
}
