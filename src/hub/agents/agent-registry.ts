// Live agent sessions by node. One live connection per node, across every hub sharing the
// database: a newer connection replaces the older one (closed with 4409).
//
// On this hub the replacement is immediate. Across hubs it goes through the event log: every
// connect appends a `node.presence` event carrying its connection id, and the event feed hands
// every hub the events in commit order. A hub that holds a node and sees a connect of another
// connection *after* its own connect event closes its session. If the other connect comes
// before its own, the other hub will see this one later and close its own instead. Exactly one
// survives, without clocks or extra round trips. A connection whose connect could not be
// written is closed (1001) rather than left alive unannounced.
//
// Disconnects are written with their connection id, so a replaced connection's late disconnect
// changes nothing. While the hub shuts down, nothing is written on purpose: the nodes' leases go
// stale and the next hub (or another one) gives them the grace before their servers become
// UNKNOWN (presence.ts).
import { randomUUID } from 'node:crypto'
import { CLOSE } from '../../agent-protocol/index.ts'
import type { HubEvent } from '../bus.ts'
import type { AgentSession } from './agent-session.ts'

export interface AgentRegistryDeps {
  /** Records a presence change; resolves once committed. */
  write: (change: { nodeId: string, connectionId: string, connected: boolean }) => Promise<unknown>
  log: { warn (obj: object, msg: string): void }
  newId?: () => string
}

export interface AgentRegistry {
  attach (session: AgentSession): void
  detach (session: AgentSession): void
  get (nodeId: string): AgentSession | undefined
  /** The nodes held here with their connection ids (for lease renewal). */
  held (): Array<{ nodeId: string, connectionId: string }>
  /** Committed events from the feed, in id order. */
  onEvents (events: HubEvent[]): void
  size (): number
  /** Closes every session with `code`, writing nothing. */
  closeAll (code: number, reason: string): void
}

interface Entry {
  session: AgentSession
  connectionId: string
  /** Its own connect event has come back through the feed: any later foreign connect is newer. */
  confirmed: boolean
}

export function createAgentRegistry (deps: AgentRegistryDeps): AgentRegistry {
  const { newId = randomUUID } = deps
  const entries = new Map<string, Entry>()
  let closing = false

  const write = (nodeId: string, connectionId: string, connected: boolean, onFail?: () => void) => {
    deps.write({ nodeId, connectionId, connected }).catch(err => {
      deps.log.warn({ err, nodeId }, 'presence not persisted')
      onFail?.()
    })
  }

  return {
    attach (session) {
      const previous = entries.get(session.nodeId)
      const entry = { session, connectionId: newId(), confirmed: false }
      entries.set(session.nodeId, entry)
      previous?.session.close(CLOSE.REPLACED, 'replaced by a newer connection')
      write(session.nodeId, entry.connectionId, true, () => session.close(CLOSE.GOING_AWAY, 'hub could not record the connection; reconnect'))
    },
    detach (session) {
      const entry = entries.get(session.nodeId)
      if (closing || entry?.session !== session) return // shutting down, or already replaced
      entries.delete(session.nodeId)
      write(session.nodeId, entry.connectionId, false)
    },
    get: nodeId => entries.get(nodeId)?.session,
    held: () => [...entries].map(([nodeId, e]) => ({ nodeId, connectionId: e.connectionId })),
    onEvents (events) {
      for (const event of events) {
        if (event.kind !== 'node.presence' || event.data.connected !== true || event.nodeId === null) continue
        const entry = entries.get(event.nodeId)
        if (entry === undefined) continue
        if (event.data.connectionId === entry.connectionId) entry.confirmed = true
        else if (entry.confirmed) {
          entries.delete(event.nodeId)
          entry.session.close(CLOSE.REPLACED, 'replaced by a newer connection on another hub')
        }
      }
    },
    size: () => entries.size,
    closeAll (code, reason) {
      closing = true
      for (const { session } of [...entries.values()]) session.close(code, reason)
    }
  }
}
