// Shapes shared by the panel core's files: the data access it is given, its limits, a session
// and the subscription index as the other files see them (here, so that no two of them import
// each other), and an event as it travels to connections (encoded once, shared by every
// connection that receives it).
import type { Snapshot } from '../../db/sql/panel.ts'
import type { HubEvent } from '../bus.ts'
import type { ConnectionLimits } from '../connection/connection.ts'
import type { Principal } from '../rbac.ts'

export type { Snapshot }

/** Data access, injected: plugins/panel-gateway.ts binds it to PostgreSQL, unit tests to fakes. */
export interface PanelStore {
  snapshot (serverIds: string[], nodeIds: string[]): Promise<Snapshot>
  /** Events in (afterId, upTo], oldest first, at most `limit`: about these servers or nodes, plus
   *  `node.presence` of `presenceNodeIds`. */
  replay (afterId: string, upTo: string, serverIds: string[], nodeIds: string[], presenceNodeIds: string[], limit: number): Promise<HubEvent[]>
  serverAccess (serverIds: string[]): Promise<Map<string, { ownerId: string, nodeId: string }>>
  userAccess (userId: string): Promise<{ role: 'ADMIN' | 'USER', permissions: string[] } | undefined>
  activeSessions (sessionIds: string[]): Promise<Set<string>>
}

/** The kernel's limits (heartbeat, rate, bad frames, the outbox's bound), plus the event stream's. */
export interface PanelLimits extends ConnectionLimits {
  maxFrameBytes: number
  /** Above this many buffered bytes, events are coalesced instead of sent. */
  highWaterBytes: number
  /** A connection above the high-water mark this long is closed (1008). */
  maxStallMs: number
  /** How often an overflowed connection's buffer is looked at. */
  drainCheckMs: number
  /** Live events held for one connection while a subscribe reads its snapshot and replay. */
  maxPendingEvents: number
  /** Events per replay read. */
  replayBatch: number
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
  /**
   * A droppable frame (console line, stats sample): sent while there is room under the outbox's
   * ephemeral bound and events are not coalescing, else counted as dropped under `key`. Never
   * closes the connection, never causes a `resync`, never delays events (connection/outbox.ts).
   */
  sendEphemeral (key: string, frame: string | Buffer): boolean
  /** Dropped ephemeral frames per key since the last call. */
  takeDropped (): Map<string, number>
  readonly principal: Principal
  readonly closed: boolean
  serverIds (): string[]
  stats (): { buffered: number, coalesced: number, pending: number, overflowed: boolean, lastSent: string }
}

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

export interface PanelAuth {
  sessionId: string
  expiresAt: Date
  principal: Principal
}

export type { SetTimer, Timer } from '../connection/types.ts'

/** An event on its way to panels: its frame is built once and shared by every connection. */
export interface OutEvent {
  id: bigint
  kind: string
  serverId: string | null
  nodeId: string | null
  frame: Buffer
}

export function encodeEvent (e: HubEvent): OutEvent {
  const at = e.at instanceof Date ? e.at.toISOString() : e.at
  return {
    id: BigInt(e.id),
    kind: e.kind,
    serverId: e.serverId,
    nodeId: e.nodeId,
    frame: Buffer.from(JSON.stringify({ type: 'event', eventId: e.id, kind: e.kind, data: e.data, at }))
  }
}
