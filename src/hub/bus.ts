// The in-process publish interface: what the realtime core hands over after commit. Panels
// (and later a PostgreSQL LISTEN/NOTIFY broker for several hubs) subscribe here; the core
// never knows who listens (centrifuge's Broker idea).
export type HubEvent =
  | { kind: 'server.status', data: { serverId: string, nodeId: string, from: string | null, to: string, seq: number | null, reason: string | null }, at: Date }
  | { kind: 'node.presence', data: { nodeId: string, connected: boolean }, at: Date }

/** The `server.status` event of a committed transition. */
export function statusEvent (nodeId: string, t: { serverId: string, from: string | null, to: string, seq: number | null, reason: string | null, at: Date }): HubEvent {
  return { kind: 'server.status', data: { serverId: t.serverId, nodeId, from: t.from, to: t.to, seq: t.seq, reason: t.reason }, at: t.at }
}

export interface Bus {
  publish (events: HubEvent[]): void
  subscribe (listener: (events: HubEvent[]) => void): () => void
}

export function createLocalBus (onListenerError: (err: unknown) => void = () => {}): Bus {
  const listeners = new Set<(events: HubEvent[]) => void>()
  return {
    publish (events) {
      if (events.length === 0) return
      for (const listener of listeners) {
        // A failing consumer must not stop the others, nor the ingest path that published.
        try { listener(events) } catch (err) { onListenerError(err) }
      }
    },
    subscribe (listener) {
      listeners.add(listener)
      return () => { listeners.delete(listener) }
    }
  }
}
