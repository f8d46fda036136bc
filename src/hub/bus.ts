// The publish interface: committed changes, each with its global event id, handed to whoever
// listens in this process (the panel gateway). Events reach it from PostgreSQL through the event
// feed (event-feed.ts), never straight from the writer, so one hub and several hubs sharing a
// database see the same events in the same order (centrifuge's Broker idea: the core never
// knows where events come from or who listens).
import type { NewEvent, StoredEvent } from '../db/sql/events.ts'

export type HubEvent = StoredEvent
export type { NewEvent }

/** The `server.status` event of a committed transition. */
export function statusEvent (nodeId: string, t: { serverId: string, from: string | null, to: string, seq: number | null, reason: string | null, at: Date }): NewEvent {
  return {
    kind: 'server.status',
    serverId: t.serverId,
    nodeId,
    data: { serverId: t.serverId, nodeId, from: t.from, to: t.to, seq: t.seq, reason: t.reason },
    at: t.at
  }
}

export function presenceEvent (nodeId: string, connected: boolean, at: Date): NewEvent {
  return { kind: 'node.presence', serverId: null, nodeId, data: { nodeId, connected }, at }
}

export interface BusListener {
  /** Consecutive events, in id order. */
  (events: HubEvent[]): void
}

export interface Bus {
  publish (events: HubEvent[]): void
  /** Events were lost before this process saw them (pruned while the feed was cut off). */
  gap (): void
  subscribe (listener: BusListener, onGap?: () => void): () => void
}

export function createLocalBus (onListenerError: (err: unknown) => void = () => {}): Bus {
  const listeners = new Map<BusListener, (() => void) | undefined>()
  // A failing consumer must not stop the others, nor the feed that published.
  const guarded = (fn: () => void) => { try { fn() } catch (err) { onListenerError(err) } }
  return {
    publish (events) {
      if (events.length === 0) return
      for (const listener of listeners.keys()) guarded(() => listener(events))
    },
    gap () {
      for (const onGap of listeners.values()) if (onGap !== undefined) guarded(onGap)
    },
    subscribe (listener, onGap) {
      listeners.set(listener, onGap)
      return () => { listeners.delete(listener) }
    }
  }
}
