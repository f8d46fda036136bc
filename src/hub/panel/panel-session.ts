// One panel connection, after authentication: frames in (subscribe, unsubscribe, ping), events
// out, heartbeats, session expiry, rate and bad-frame limits. Knows nothing of Fastify or ws
// (transport.ts); the registry (panel-registry.ts) indexes it and feeds it the events its
// subscriptions match. What it watches, and subscribe with snapshot and replay (with the
// ordering argument), live in panel-subscriptions.ts; backpressure in panel-outbox.ts.
import { CLOSE } from '../../agent-protocol/codes.ts'
import type { Principal } from '../rbac.ts'
import { createTokenBucket } from '../token-bucket.ts'
import { PANEL_ERROR, decodePanelMessage, type HubToPanel, type RequestIdValue } from './messages.ts'
import { createOutbox } from './panel-outbox.ts'
import { createSubscriptions, type SubscriptionIndex } from './panel-subscriptions.ts'
import type { PanelTransport } from './transport.ts'
import type { OutEvent, PanelAuth, PanelLimits, PanelStore, SetTimer, Timer } from './types.ts'

export type { SubscriptionIndex }

export interface PanelSessionDeps {
  auth: PanelAuth
  transport: PanelTransport
  store: PanelStore
  index: SubscriptionIndex
  limits: PanelLimits
  now: () => number
  setTimer: SetTimer
  log: { warn (obj: object, msg: string): void }
}

export interface PanelSession {
  readonly userId: string
  readonly sessionId: string
  onFrame (data: string | Buffer, isBinary: boolean): void
  onPong (): void
  onClosed (): void
  close (code: number, reason: string): void
  /** Events this connection's subscriptions match, in id order. */
  deliver (events: OutEvent[]): void
  /** Events were lost upstream: tell the panel. */
  resync (reason: string): void
  /** The user's access changed: drop what they may no longer view. */
  updatePrincipal (principal: Principal): void
  /** Servers changed owner or were deleted (absent from `access`). */
  recheckServers (access: Map<string, { ownerId: string, nodeId: string }>, serverIds: string[]): void
  readonly principal: Principal
  readonly closed: boolean
  serverIds (): string[]
  stats (): { buffered: number, coalesced: number, pending: number, overflowed: boolean, lastSent: string }
}

/** setTimeout cannot wait longer than 2^31-1 ms; longer waits are re-armed. */
const MAX_TIMER_MS = 2_147_483_647

export function createPanelSession (deps: PanelSessionDeps): PanelSession {
  const { auth, transport, store, index, limits, now, setTimer, log } = deps
  let principal = auth.principal
  let closed = false
  let badFrames = 0
  let limitedFrames = 0
  let lastSeen = now()
  const bucket = createTokenBucket(limits.ratePerSecond, limits.burst, now)
  let work: Promise<void> = Promise.resolve()

  const send = (msg: HubToPanel) => { if (!closed) transport.send(JSON.stringify(msg)) }
  const error = (code: string, message: string, id?: RequestIdValue, data?: { servers?: string[], nodes?: string[] }) =>
    send({ type: 'error', ...(id === undefined ? {} : { id }), code, message, ...(data === undefined ? {} : { data }) })

  function close (code: number, reason: string) {
    if (closed) return
    transport.close(code, reason)
    onClosed()
  }
  function onClosed () {
    if (closed) return
    closed = true
    heartbeat.cancel()
    expiry.cancel()
    outbox.stop()
    subs.stop()
    index.detach(self)
  }

  // Heartbeat: a ping every interval; a peer not heard from (any frame or pong) for 2 intervals is dead.
  let heartbeat = setTimer(beat, limits.heartbeatMs)
  function beat () {
    if (now() - lastSeen > 2 * limits.heartbeatMs) return close(CLOSE.TIMEOUT, 'heartbeat lost')
    transport.ping()
    heartbeat = setTimer(beat, limits.heartbeatMs)
  }
  // The session's end closes the socket, on every hub holding one, without any notification.
  let expiry: Timer = { cancel () {} }
  const armExpiry = () => {
    const left = auth.expiresAt.getTime() - now()
    if (left <= 0) return close(CLOSE.UNAUTHORIZED, 'session expired')
    expiry = setTimer(armExpiry, Math.min(left, MAX_TIMER_MS))
  }

  const outbox = createOutbox({
    transport,
    limits,
    now,
    setTimer,
    matches: e => subs.matches(e),
    sendResync: reason => send({ type: 'resync', reason }),
    onStall: () => close(CLOSE.POLICY, 'too slow: events could not be delivered')
  })

  // ---- frames in ----

  function bad (reason: string, id?: RequestIdValue) {
    error(PANEL_ERROR.BAD_FRAME, reason, id)
    if (++badFrames > limits.maxBadFrames) close(CLOSE.PROTOCOL_ERROR, 'too many bad frames')
  }
  const fault = (err: unknown) => log.warn({ userId: auth.principal.userId, err }, 'panel frame handler failed')
  /** Subscribes and unsubscribes run one at a time, in arrival order. */
  const serial = (fn: () => unknown) => { work = work.then(fn).then(() => {}, fault) }

  const self: PanelSession = {
    userId: auth.principal.userId,
    sessionId: auth.sessionId,
    get principal () { return principal },
    get closed () { return closed },
    onFrame (data, isBinary) {
      if (closed) return
      lastSeen = now()
      if (!bucket.take()) {
        error(PANEL_ERROR.RATE_LIMITED, 'too many frames; slow down')
        if (++limitedFrames > limits.maxLimitedFrames) close(CLOSE.RATE_LIMITED, 'rate limited')
        return
      }
      if (isBinary) return bad('binary frames are not accepted')
      const decoded = decodePanelMessage(data, { maxBytes: limits.maxFrameBytes })
      if (!decoded.ok) return bad(decoded.error.reason)
      const msg = decoded.msg
      if (msg.type === 'ping') send({ type: 'pong', id: msg.id })
      else if (msg.type === 'subscribe') serial(async () => await subs.subscribe(msg))
      else serial(() => subs.unsubscribe(msg))
    },
    onPong () { lastSeen = now() },
    onClosed,
    close,
    deliver (events) {
      if (closed) return
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
    transport,
    outbox,
    principal: () => principal,
    closed: () => closed,
    send,
    error,
    bad,
    log
  })
  armExpiry()
  send({ type: 'ready', userId: auth.principal.userId, expiresAt: auth.expiresAt })
  return self
}
