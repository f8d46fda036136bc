// What one panel connection watches, and how that changes: subscribe (RBAC, snapshot, replay from
// `since`, merged with the live events held meanwhile), unsubscribe, and the re-checks that end
// subscriptions when access is revoked or a server is deleted. panel-session.ts owns the
// connection around it (frames, limits, heartbeat, the send path).
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
import { can, canViewServer, type Principal } from '../rbac.ts'
import {
  MAX_IDS_PER_FRAME, MAX_SERVERS_PER_CONNECTION, PANEL_ERROR,
  type HubToPanel, type PanelMessage, type RequestIdValue, type SubscribeMessage
} from './messages.ts'
import type { Outbox } from './panel-outbox.ts'
import type { Transport } from '../connection/types.ts'
import { encodeEvent, type OutEvent, type PanelLimits, type PanelSession, type PanelStore, type SubscriptionIndex } from './types.ts'

export interface SubscriptionsDeps {
  /** The session these subscriptions belong to: the key under which the index files them. */
  session: PanelSession
  index: SubscriptionIndex
  store: PanelStore
  limits: PanelLimits
  transport: Pick<Transport, 'bufferedAmount'>
  outbox: Outbox
  principal: () => Principal
  closed: () => boolean
  send: (msg: HubToPanel) => void
  error: (code: string, message: string, id?: RequestIdValue, data?: { servers?: string[], nodes?: string[] }) => void
  bad: (reason: string, id?: RequestIdValue) => void
  log: { warn (obj: object, msg: string): void }
}

export interface Subscriptions {
  /** Whether the connection watches what the event is about. */
  matches (e: OutEvent): boolean
  subscribe (msg: SubscribeMessage): Promise<void>
  unsubscribe (msg: Extract<PanelMessage, { type: 'unsubscribe' }>): void
  /** Holds live events while a subscribe is reading; false when none is (send them now). */
  hold (events: OutEvent[]): boolean
  /** The user's access changed: ends what they may no longer view. */
  updatePrincipal (principal: Principal): void
  /** Servers changed owner or were deleted (absent from `access`). */
  recheckServers (access: Map<string, { ownerId: string, nodeId: string }>, serverIds: string[]): void
  serverIds (): string[]
  pendingCount (): number
  /** The connection ended: drop what is held. */
  stop (): void
}

export function createSubscriptions (deps: SubscriptionsDeps): Subscriptions {
  const { session: self, index, store, limits, transport, outbox, send, error, bad, log } = deps
  /** Subscribed servers with what RBAC needs to re-check them. */
  const servers = new Map<string, { ownerId: string, nodeId: string }>()
  const nodes = new Set<string>()
  /** Nodes whose presence this connection gets through its servers, with a count of those servers. */
  const presence = new Map<string, number>()
  let pending: OutEvent[] | null = null
  let pendingLost = false
  const emit = (events: OutEvent[]) => outbox.emit(events)

  const matches = (e: OutEvent): boolean =>
    (e.serverId !== null && servers.has(e.serverId)) ||
    (e.nodeId !== null && (nodes.has(e.nodeId) || (e.kind === 'node.presence' && presence.has(e.nodeId))))

  async function subscribe (msg: SubscribeMessage) {
    const reqServers = [...new Set(msg.servers ?? [])]
    const reqNodes = [...new Set(msg.nodes ?? [])]
    if (reqServers.length + reqNodes.length > MAX_IDS_PER_FRAME) return bad(`at most ${MAX_IDS_PER_FRAME} ids per frame`, msg.id)
    const since = msg.since === undefined ? undefined : BigInt(msg.since)
    const sent = outbox.lastSent()
    if (since !== undefined && since < sent) return bad(`since ${msg.since} is before an event already sent on this connection (${sent}); subscribe without since for a snapshot`, msg.id)
    // Nodes need servers.view: refused before any read, so the answer says nothing of the nodes.
    if (reqNodes.length > 0 && !can(deps.principal(), 'servers.view')) return error(PANEL_ERROR.FORBIDDEN, 'watching nodes needs servers.view', msg.id)

    const newServers = reqServers.filter(id => !servers.has(id))
    const newNodes = reqNodes.filter(id => !nodes.has(id))
    pending ??= []
    index.addServers(self, newServers)
    index.addNodes(self, newNodes)
    // Held events to send when done: with the old subscriptions only, unless accepted.
    let keep = matches
    try {
      const snap = await store.snapshot(reqServers, reqNodes)
      if (deps.closed()) return
      const principal = deps.principal()
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
      // `since` beyond the log: the database was restored from a backup (docs/operations.md), so
      // what the panel saw after the restore point is gone. Its view is rebuilt from the snapshot.
      const beyond = since !== undefined && since > last

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
      if (beyond) send({ type: 'resync', reason: 'since is beyond the newest event (the event log was restored)' })
      else if (since !== undefined && since + 1n < BigInt(snap.oldest)) send({ type: 'resync', reason: 'since is older than the oldest kept event' })
      else if (since !== undefined && since < last) await replay(since, last, reqServers, reqNodes, keep)
    } catch (err) {
      log.warn({ userId: self.userId, err }, 'panel subscribe failed')
      error(PANEL_ERROR.INTERNAL, 'the subscription could not be read; try again', msg.id)
    } finally {
      index.removeServers(self, newServers)
      index.removeNodes(self, newNodes)
      if (pending !== null && !deps.closed()) {
        const held = pending
        pending = null
        emit(held.filter(keep))
      }
      if (pendingLost && !deps.closed()) {
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
      if (deps.closed()) return
      const page = await store.replay(String(cursor), String(last), serverIds, nodeIds, presenceNodes, limits.replayBatch)
      if (deps.closed() || pending === null) return
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

  return {
    matches,
    subscribe,
    unsubscribe,
    hold (events) {
      if (pending === null) return false
      if (pendingLost) return true
      pending.push(...events)
      if (pending.length > limits.maxPendingEvents) {
        // Held too long (a huge replay): keep only what the snapshot needs, and resync after.
        pendingLost = true
        pending.length = 0
      }
      return true
    },
    updatePrincipal (next) {
      const lostServers = [...servers].filter(([, s]) => !canViewServer(next, s)).map(([id]) => id)
      const lostNodes = can(next, 'servers.view') ? [] : [...nodes]
      drop(PANEL_ERROR.FORBIDDEN, 'your access to these servers or nodes was revoked', lostServers, lostNodes)
    },
    recheckServers (access, serverIds) {
      const gone = serverIds.filter(id => servers.has(id) && !access.has(id))
      drop(PANEL_ERROR.NOT_FOUND, 'these servers were deleted', gone, [])
      const principal = deps.principal()
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
    pendingCount: () => pending?.length ?? 0,
    stop () { pending = null }
  }
}
