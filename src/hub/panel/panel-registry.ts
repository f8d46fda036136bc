// Every panel connection of this hub, indexed by what it watches, so that fan-out costs
// O(matching connections) per event: serverId -> sessions, nodeId -> sessions (node
// subscriptions), nodeId -> sessions that watch servers on that node (they get its presence).
// Each event's frame is encoded once and shared. Also indexed by user and session, so that
// revocations (auth-feed.ts, from any hub through PostgreSQL) reach the right sockets at once.
import { CLOSE } from '../../agent-protocol/codes.ts'
import type { AuthChange } from '../../db/sql/auth-notify.ts'
import type { HubEvent } from '../bus.ts'
import type { FrameMeter } from '../connection/frame-meter.ts'
import { createPanelSession, type PanelStreams } from './panel-session.ts'
import type { Transport } from '../connection/types.ts'
import { encodeEvent, type OutEvent, type PanelAuth, type PanelLimits, type PanelSession, type PanelStore, type SetTimer, type SubscriptionIndex } from './types.ts'

export interface PanelRegistryDeps {
  store: PanelStore
  limits: PanelLimits
  now: () => number
  setTimer: SetTimer
  log: { warn (obj: object, msg: string): void }
  /** Console and stats (1.1), handed to every session. */
  streams?: PanelStreams
  /** Counts every session's frames by type (hub_ws_frames_total). */
  frames?: FrameMeter
}

export interface PanelRegistry {
  open (auth: PanelAuth, transport: Transport, log?: PanelRegistryDeps['log']): PanelSession
  /** Bus listener: committed events in id order. */
  publish (events: HubEvent[]): void
  /** Bus gap listener: events were lost before this hub saw them. */
  gap (): void
  apply (change: AuthChange): Promise<void>
  /** Re-checks every connection (after the auth feed was cut off and may have missed changes). */
  recheckAll (): Promise<void>
  closeAll (code: number, reason: string): void
  size (): number
  sessions (): PanelSession[]
}

type Index = Map<string, Set<PanelSession>>

const add = (index: Index, key: string, s: PanelSession) => {
  const set = index.get(key)
  if (set === undefined) index.set(key, new Set([s]))
  else set.add(s)
}
const remove = (index: Index, key: string, s: PanelSession) => {
  const set = index.get(key)
  if (set !== undefined && set.delete(s) && set.size === 0) index.delete(key)
}

export function createPanelRegistry (deps: PanelRegistryDeps): PanelRegistry {
  const byServer: Index = new Map()
  const byNode: Index = new Map()
  const byPresence: Index = new Map()
  const byUser: Index = new Map()
  const bySession: Index = new Map()
  const all = new Set<PanelSession>()
  // What each session is indexed under, so detach is exact.
  const keys = new Map<PanelSession, { servers: Set<string>, nodes: Set<string>, presence: Set<string> }>()

  const index: SubscriptionIndex = {
    addServers (s, ids) { const k = keys.get(s); for (const id of ids) { add(byServer, id, s); k?.servers.add(id) } },
    removeServers (s, ids) { const k = keys.get(s); for (const id of ids) { remove(byServer, id, s); k?.servers.delete(id) } },
    addNodes (s, ids) { const k = keys.get(s); for (const id of ids) { add(byNode, id, s); k?.nodes.add(id) } },
    removeNodes (s, ids) { const k = keys.get(s); for (const id of ids) { remove(byNode, id, s); k?.nodes.delete(id) } },
    addPresence (s, ids) { const k = keys.get(s); for (const id of ids) { add(byPresence, id, s); k?.presence.add(id) } },
    removePresence (s, ids) { const k = keys.get(s); for (const id of ids) { remove(byPresence, id, s); k?.presence.delete(id) } },
    detach (s) {
      const k = keys.get(s)
      if (k === undefined) return
      for (const id of k.servers) remove(byServer, id, s)
      for (const id of k.nodes) remove(byNode, id, s)
      for (const id of k.presence) remove(byPresence, id, s)
      remove(byUser, s.userId, s)
      remove(bySession, s.sessionId, s)
      keys.delete(s)
      all.delete(s)
    }
  }

  function publish (events: HubEvent[]) {
    // Per session, its events of this batch in id order; an event matched twice (server and node
    // subscription) is adjacent to itself, so comparing with the last one pushed dedupes it.
    const out = new Map<PanelSession, OutEvent[]>()
    const push = (set: Set<PanelSession> | undefined, e: OutEvent) => {
      if (set === undefined) return
      for (const s of set) {
        const list = out.get(s)
        if (list === undefined) out.set(s, [e])
        else if (list[list.length - 1] !== e) list.push(e)
      }
    }
    for (const raw of events) {
      const sSet = raw.serverId === null ? undefined : byServer.get(raw.serverId)
      const nSet = raw.nodeId === null ? undefined : byNode.get(raw.nodeId)
      const pSet = raw.kind === 'node.presence' && raw.nodeId !== null ? byPresence.get(raw.nodeId) : undefined
      if (sSet === undefined && nSet === undefined && pSet === undefined) continue
      const e = encodeEvent(raw)
      push(sSet, e)
      push(nSet, e)
      push(pSet, e)
    }
    for (const [s, list] of out) {
      try {
        s.deliver(list)
      } catch (err) {
        deps.log.warn({ userId: s.userId, err }, 'panel delivery failed')
      }
    }
  }

  async function applyToUser (userId: string) {
    const set = byUser.get(userId)
    if (set === undefined) return
    const access = await deps.store.userAccess(userId)
    for (const s of [...(byUser.get(userId) ?? [])]) {
      if (access === undefined) s.close(CLOSE.UNAUTHORIZED, 'user deleted')
      else if (access.role !== s.principal.role) s.close(CLOSE.UNAUTHORIZED, 'role changed; sign in again')
      else s.updatePrincipal({ userId, role: access.role, permissions: new Set(access.permissions) })
    }
  }

  async function applyToSessions (sessionIds: string[]) {
    if (sessionIds.length === 0) return
    const active = await deps.store.activeSessions(sessionIds)
    for (const id of sessionIds) {
      if (active.has(id)) continue
      for (const s of [...(bySession.get(id) ?? [])]) s.close(CLOSE.UNAUTHORIZED, 'session revoked')
    }
  }

  async function applyToServers (serverIds: string[]) {
    const ids = serverIds.filter(id => byServer.has(id))
    if (ids.length === 0) return
    const access = await deps.store.serverAccess(ids)
    const touched = new Set<PanelSession>()
    for (const id of ids) for (const s of byServer.get(id) ?? []) touched.add(s)
    for (const s of touched) s.recheckServers(access, ids)
  }

  return {
    open (auth, transport, log = deps.log) {
      const s = createPanelSession({ auth, transport, store: deps.store, index, limits: deps.limits, now: deps.now, setTimer: deps.setTimer, log, ...(deps.streams === undefined ? {} : { streams: deps.streams }), ...(deps.frames === undefined ? {} : { frames: deps.frames }) })
      // A session that expired before it opened has closed already, from inside createPanelSession.
      if (s.closed) return s
      keys.set(s, { servers: new Set(), nodes: new Set(), presence: new Set() })
      all.add(s)
      add(byUser, s.userId, s)
      add(bySession, s.sessionId, s)
      return s
    },
    publish,
    gap () { for (const s of all) s.resync('events were lost upstream') },
    async apply (change) {
      if ('sessionId' in change) await applyToSessions([change.sessionId])
      else if ('userId' in change) await applyToUser(change.userId)
      else if ('serverId' in change) await applyToServers([change.serverId])
      // nodeId changes concern agents only (agents/node-revocation.ts).
    },
    async recheckAll () {
      await applyToSessions([...bySession.keys()])
      for (const userId of [...byUser.keys()]) await applyToUser(userId)
      await applyToServers([...byServer.keys()])
    },
    closeAll (code, reason) { for (const s of [...all]) s.close(code, reason) },
    size: () => all.size,
    sessions: () => [...all]
  }
}
