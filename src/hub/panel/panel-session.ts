// One panel connection, after authentication: frames in (subscribe, unsubscribe, ping), events
// out, heartbeats, session expiry, rate and bad-frame limits, and the bounded send path. Knows
// nothing of Fastify or ws (transport.ts); the registry (panel-registry.ts) indexes it and feeds
// it the events its subscriptions match.
//
// Ordering. Event ids on one connection are strictly increasing, without gaps for what the panel
// watches. A subscribe reads a snapshot (and, with `since`, replays the log) while live events
// keep coming from the bus; during that time the connection's new ids are already in the index
// and every live event for the connection is held in `pending`. The snapshot is read in one
// REPEATABLE READ transaction with the event counter, so it reflects exactly the events up to its
// `lastEventId` L. When it is in: the held events are merged, by id, with the replayed ones; a held
// event that concerns only the new ids and is <= L is dropped (the snapshot or the replay has it);
// `lastSent` drops duplicates. Why index before reading: an event committed just after the
// snapshot can reach the bus before the read's continuation runs; indexed early, it is held, not
// lost. If the subscribe is refused, the tentative ids leave the index and their held events are
// dropped, so nothing about a forbidden server is ever sent.
//
// Backpressure lives in panel-outbox.ts.
import { CLOSE } from '../../agent-protocol/codes.ts'
import { can, canViewServer, type Principal } from '../rbac.ts'
import { createTokenBucket } from '../token-bucket.ts'
import {
  MAX_IDS_PER_FRAME, MAX_SERVERS_PER_CONNECTION, PANEL_ERROR, decodePanelMessage,
  type HubToPanel, type PanelMessage, type RequestIdValue, type SubscribeMessage
} from './messages.ts'
import { createOutbox } from './panel-outbox.ts'
import type { PanelTransport } from './transport.ts'
import { encodeEvent, type OutEvent, type PanelAuth, type PanelLimits, type PanelStore, type SetTimer, type Timer } from './types.ts'

/** What a session needs from the registry: the subscription index. */
export interface SubscriptionIndex {
  addServers (s: PanelSession, serverIds: Iterable<string>): void
  removeServers (s: PanelSession, serverIds: Iterable<string>): void
  addNodes (s: PanelSession, nodeIds: Iterable<string>): void
  removeNodes (s: PanelSession, nodeIds: Iterable<string>): void
  /** Presence of these nodes reaches the session because it watches servers on them. */
  addPresence (s: PanelSession, nodeIds: Iterable<string>): void
  removePresence (s: PanelSession, nodeIds: Iterable<string>): void
  detach (s: PanelSession): void
}

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
  /** Subscribed servers with what RBAC needs to re-check them. */
  const servers = new Map<string, { ownerId: string, nodeId: string }>()
  const nodes = new Set<string>()
  /** Nodes whose presence this connection gets through its servers, with a count of those servers. */
  const presence = new Map<string, number>()
  let pending: OutEvent[] | null = null
  let pendingLost = false
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
    pending = null
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

  const matches = (e: OutEvent): boolean =>
    (e.serverId !== null && servers.has(e.serverId)) ||
    (e.nodeId !== null && (nodes.has(e.nodeId) || (e.kind === 'node.presence' && presence.has(e.nodeId))))

  const outbox = createOutbox({
    transport,
    limits,
    now,
    setTimer,
    matches,
    sendResync: reason => send({ type: 'resync', reason }),
    onStall: () => close(CLOSE.POLICY, 'too slow: events could not be delivered')
  })
  const emit = (events: OutEvent[]) => outbox.emit(events)

  // ---- subscribe / unsubscribe ----

  async function subscribe (msg: SubscribeMessage) {
    const reqServers = [...new Set(msg.servers ?? [])]
    const reqNodes = [...new Set(msg.nodes ?? [])]
    if (reqServers.length + reqNodes.length > MAX_IDS_PER_FRAME) return bad(`at most ${MAX_IDS_PER_FRAME} ids per frame`, msg.id)
    const since = msg.since === undefined ? undefined : BigInt(msg.since)
    const sent = outbox.lastSent()
    if (since !== undefined && since < sent) return bad(`since ${msg.since} is before an event already sent on this connection (${sent}); subscribe without since for a snapshot`, msg.id)
    // Nodes need servers.view: refused before any read, so the answer says nothing of the nodes.
    if (reqNodes.length > 0 && !can(principal, 'servers.view')) return error(PANEL_ERROR.FORBIDDEN, 'watching nodes needs servers.view', msg.id)

    const newServers = reqServers.filter(id => !servers.has(id))
    const newNodes = reqNodes.filter(id => !nodes.has(id))
    pending ??= []
    index.addServers(self, newServers)
    index.addNodes(self, newNodes)
    // Held events to send when done: with the old subscriptions only, unless accepted.
    let keep = matches
    try {
      const snap = await store.snapshot(reqServers, reqNodes)
      if (closed) return
      const found = new Map(snap.servers.map(s => [s.serverId, s]))
      const viewAll = can(principal, 'servers.view')
      const unknown = reqServers.some(id => !found.has(id)) || reqNodes.length !== snap.nodes.length
      const forbidden = reqServers.some(id => { const s = found.get(id); return s !== undefined && !canViewServer(principal, s) })
      // Without servers.view, "does not exist" and "not yours" get the same answer: nothing leaks.
      if (forbidden || (unknown && !viewAll)) return error(PANEL_ERROR.FORBIDDEN, 'you may not view some of these servers or nodes', msg.id)
      if (unknown) return error(PANEL_ERROR.NOT_FOUND, 'some of these servers or nodes do not exist', msg.id)
      const total = new Set([...servers.keys(), ...snap.servers.map(s => s.serverId)]).size
      if (total > MAX_SERVERS_PER_CONNECTION) return bad(`at most ${MAX_SERVERS_PER_CONNECTION} servers per connection`, msg.id)
      const last = BigInt(snap.last)
      if (since !== undefined && since > last) return bad(`since ${msg.since} is in the future (the last event is ${snap.last})`, msg.id)

      // Accepted. A held event <= L that concerns only the new subscriptions is covered by the
      // snapshot (or the replay): remember which ids are new to tell.
      const fresh = { servers: new Set(newServers), nodes: new Set(newNodes), presence: new Set<string>() }
      for (const id of reqServers) {
        const s = found.get(id) as { ownerId: string, nodeId: string }
        if (!servers.has(id) && addPresence(s.nodeId)) fresh.presence.add(s.nodeId)
        servers.set(id, { ownerId: s.ownerId, nodeId: s.nodeId })
      }
      for (const id of reqNodes) nodes.add(id)
      const matchesOld = (e: OutEvent) =>
        (e.serverId !== null && servers.has(e.serverId) && !fresh.servers.has(e.serverId)) ||
        (e.nodeId !== null && ((nodes.has(e.nodeId) && !fresh.nodes.has(e.nodeId)) ||
          (e.kind === 'node.presence' && presence.has(e.nodeId) && !fresh.presence.has(e.nodeId))))
      keep = e => matches(e) && (e.id > last || matchesOld(e))
      newServers.length = 0 // now subscribed: the finally block must not unindex them
      newNodes.length = 0
      send({
        type: 'subscribed',
        id: msg.id,
        servers: snap.servers.map(s => ({ serverId: s.serverId, name: s.name, nodeId: s.nodeId, status: s.status, updatedAt: s.updatedAt })),
        lastEventId: snap.last
      })
      if (since !== undefined && since + 1n < BigInt(snap.oldest)) send({ type: 'resync', reason: 'since is older than the oldest kept event' })
      else if (since !== undefined && since < last) await replay(since, last, reqServers, reqNodes, keep)
    } catch (err) {
      log.warn({ userId: auth.principal.userId, err }, 'panel subscribe failed')
      error(PANEL_ERROR.INTERNAL, 'the subscription could not be read; try again', msg.id)
    } finally {
      index.removeServers(self, newServers)
      index.removeNodes(self, newNodes)
      if (pending !== null && !closed) {
        const held = pending
        pending = null
        emit(held.filter(keep))
      }
      if (pendingLost && !closed) {
        pendingLost = false
        send({ type: 'resync', reason: 'slow consumer' })
      }
    }
  }

  /**
   * Replays (since, last] for the subscription just made, page by page, merged by id with the
   * live events held meanwhile (which keep arriving into `pending` during the reads).
   */
  async function replay (since: bigint, last: bigint, serverIds: string[], nodeIds: string[], keep: (e: OutEvent) => boolean) {
    const presenceNodes = [...new Set(serverIds.map(id => (servers.get(id) as { nodeId: string }).nodeId))]
    let cursor = since
    let j = 0
    while (cursor < last) {
      if (closed) return
      const page = await store.replay(String(cursor), String(last), serverIds, nodeIds, presenceNodes, limits.replayBatch)
      if (closed || pending === null) return
      const merged: OutEvent[] = []
      for (const raw of page) {
        const e = encodeEvent(raw)
        for (; j < pending.length && (pending[j] as OutEvent).id < e.id; j++) if (keep(pending[j] as OutEvent)) merged.push(pending[j] as OutEvent)
        merged.push(e)
        cursor = e.id
      }
      emit(merged)
      if (page.length < limits.replayBatch) break
      if (transport.bufferedAmount() > limits.highWaterBytes / 4 && !await outbox.drained()) return
    }
    if (pending !== null) pending.splice(0, j) // the rest goes out in subscribe's finally block
  }

  function unsubscribe (msg: Extract<PanelMessage, { type: 'unsubscribe' }>) {
    const gone = (msg.servers ?? []).filter(id => servers.has(id))
    for (const id of gone) removePresence((servers.get(id) as { nodeId: string }).nodeId)
    for (const id of gone) servers.delete(id)
    const goneNodes = (msg.nodes ?? []).filter(id => nodes.delete(id))
    index.removeServers(self, gone)
    index.removeNodes(self, goneNodes)
  }

  /** Counts one more watched server on the node; true when it is the first. */
  function addPresence (nodeId: string): boolean {
    const n = presence.get(nodeId) ?? 0
    presence.set(nodeId, n + 1)
    if (n === 0) index.addPresence(self, [nodeId])
    return n === 0
  }
  function removePresence (nodeId: string) {
    const n = (presence.get(nodeId) ?? 1) - 1
    if (n > 0) presence.set(nodeId, n)
    else {
      presence.delete(nodeId)
      index.removePresence(self, [nodeId])
    }
  }

  /** Ends these subscriptions (access lost or server gone) and tells the panel which. */
  function drop (code: string, message: string, serverIds: string[], nodeIds: string[]) {
    if (serverIds.length === 0 && nodeIds.length === 0) return
    for (const id of serverIds) {
      const s = servers.get(id)
      if (s === undefined) continue
      removePresence(s.nodeId)
      servers.delete(id)
    }
    for (const id of nodeIds) nodes.delete(id)
    index.removeServers(self, serverIds)
    index.removeNodes(self, nodeIds)
    error(code, message, undefined, { servers: serverIds, nodes: nodeIds })
  }

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
      else if (msg.type === 'subscribe') serial(async () => await subscribe(msg))
      else serial(() => unsubscribe(msg))
    },
    onPong () { lastSeen = now() },
    onClosed,
    close,
    deliver (events) {
      if (closed) return
      if (pending !== null) {
        if (pendingLost) return
        pending.push(...events)
        if (pending.length > limits.maxPendingEvents) {
          // Held too long (a huge replay): keep only what the snapshot needs, and resync after.
          pendingLost = true
          pending.length = 0
        }
        return
      }
      emit(events)
    },
    resync (reason) {
      send({ type: 'resync', reason })
    },
    updatePrincipal (next) {
      principal = next
      const lostServers = [...servers].filter(([, s]) => !canViewServer(next, s)).map(([id]) => id)
      const lostNodes = can(next, 'servers.view') ? [] : [...nodes]
      drop(PANEL_ERROR.FORBIDDEN, 'your access to these servers or nodes was revoked', lostServers, lostNodes)
    },
    recheckServers (access, serverIds) {
      const gone = serverIds.filter(id => servers.has(id) && !access.has(id))
      drop(PANEL_ERROR.NOT_FOUND, 'these servers were deleted', gone, [])
      const lost: string[] = []
      for (const id of serverIds) {
        const s = servers.get(id)
        const now = access.get(id)
        if (s === undefined || now === undefined) continue
        s.ownerId = now.ownerId
        if (!canViewServer(principal, s)) lost.push(id)
      }
      drop(PANEL_ERROR.FORBIDDEN, 'your access to these servers was revoked', lost, [])
    },
    serverIds: () => [...servers.keys()],
    stats: () => ({ buffered: transport.bufferedAmount(), coalesced: outbox.coalescedCount(), pending: pending?.length ?? 0, overflowed: outbox.overflowed(), lastSent: String(outbox.lastSent()) })
  }
  armExpiry()
  send({ type: 'ready', userId: auth.principal.userId, expiresAt: auth.expiresAt })
  return self
}
