// One panel connection, after authentication: frames in (subscribe, unsubscribe, ping), events
// out, session expiry. Heartbeats, rate and bad-frame limits, the bounded send path (every frame,
// direct replies included) and closing are the connection kernel's (connection/connection.ts);
// like it, this knows nothing of Fastify or ws; the registry (panel-registry.ts) indexes it and feeds it the events its
// subscriptions match. What it watches, and subscribe with snapshot and replay (with the
// ordering argument), live in panel-subscriptions.ts; backpressure in panel-outbox.ts.
import { CLOSE } from '../../agent-protocol/codes.ts'
import { createConnection } from '../connection/connection.ts'
import type { Transport } from '../connection/types.ts'
import { PANEL_ERROR, decodePanelMessage, type HubToPanel, type RequestIdValue } from './messages.ts'
import { createOutbox } from './panel-outbox.ts'
import { createSubscriptions } from './panel-subscriptions.ts'
import type { PanelAuth, PanelLimits, PanelSession, PanelStore, SetTimer, SubscriptionIndex, Timer } from './types.ts'

export type { PanelSession, SubscriptionIndex }

export interface PanelSessionDeps {
  auth: PanelAuth
  transport: Transport
  store: PanelStore
  index: SubscriptionIndex
  limits: PanelLimits
  now: () => number
  setTimer: SetTimer
  log: { warn (obj: object, msg: string): void }
}

/** setTimeout cannot wait longer than 2^31-1 ms; longer waits are re-armed. */
const MAX_TIMER_MS = 2_147_483_647

export function createPanelSession (deps: PanelSessionDeps): PanelSession {
  const { auth, transport, store, index, limits, now, setTimer, log } = deps
  let principal = auth.principal
  let work: Promise<void> = Promise.resolve()
  const errorFrame = (code: string, message: string, id?: RequestIdValue, data?: { servers?: string[], nodes?: string[] }) =>
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
    onEnd () {
      expiry.cancel()
      outbox.stop()
      subs.stop()
      index.detach(self)
    }
  })
  // Direct replies (`subscribed` snapshots, `pong`, `error`, `resync`) go through the same bound
  // as events: a panel that never reads and keeps asking is closed, not buffered for.
  const send = (msg: HubToPanel) => { conn.send(JSON.stringify(msg)) }
  const error = (code: string, message: string, id?: RequestIdValue, data?: { servers?: string[], nodes?: string[] }) => { conn.send(errorFrame(code, message, id, data)) }
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
    else if (msg.type === 'subscribe') serial(async () => await subs.subscribe(msg))
    else serial(() => subs.unsubscribe(msg))
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
  send({ type: 'ready', userId: auth.principal.userId, expiresAt: auth.expiresAt })
  return self
}
