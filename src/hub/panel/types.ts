// Shapes shared by the panel core's files: the data access it is given, its limits, and an event
// as it travels to connections (encoded once, shared by every connection that receives it).
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
