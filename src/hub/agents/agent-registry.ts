// Live agent sessions by node, and node presence. One live connection per node: a newer one
// replaces the older (closed with 4409). When a node's connection ends, its presence is written
// at once (with its `node.presence` event); if the node has not come back within the grace (2 × heartbeat), its servers
// become UNKNOWN. At start-up, nodes the database still marks connected get the same grace
// (a restarted hub gives agents time to reconnect before flipping anything, like Nomad's
// failover TTL).
//
// Scope: one hub instance. Which instance holds a node is in this process's memory only; the
// cross-instance version (LISTEN/NOTIFY) comes with the multi-hub work.
import { CLOSE } from '../../agent-protocol/index.ts'
import type { AgentSession } from './agent-session.ts'

export interface AgentRegistryDeps {
  graceMs: number
  setConnected: (nodeId: string, connected: boolean) => Promise<void>
  markLost: (nodeId: string) => Promise<void>
  setTimer: (fn: () => void, ms: number) => { cancel (): void }
  log: { warn (obj: object, msg: string): void }
}

export interface AgentRegistry {
  attach (session: AgentSession): void
  detach (session: AgentSession): void
  get (nodeId: string): AgentSession | undefined
  /** Starts the grace period for nodes that were connected before this hub started. */
  expectReturn (nodeIds: string[]): void
  size (): number
  /** Closes every session with `code` and cancels pending grace timers. */
  closeAll (code: number, reason: string): void
}

export function createAgentRegistry (deps: AgentRegistryDeps): AgentRegistry {
  const sessions = new Map<string, AgentSession>()
  const grace = new Map<string, { cancel (): void }>()
  // While the hub shuts down, nodes stay `connected` in the database on purpose: the next hub
  // gives them the start-up grace instead of flipping their servers to UNKNOWN.
  let closing = false
  const presence = (nodeId: string, connected: boolean) => {
    deps.setConnected(nodeId, connected).catch(err => deps.log.warn({ err, nodeId }, 'presence not persisted'))
  }
  const startGrace = (nodeId: string) => {
    grace.get(nodeId)?.cancel()
    grace.set(nodeId, deps.setTimer(() => {
      grace.delete(nodeId)
      if (sessions.has(nodeId)) return
      deps.markLost(nodeId).catch(err => deps.log.warn({ err, nodeId }, 'could not mark lost node servers UNKNOWN'))
    }, deps.graceMs))
  }

  return {
    attach (session) {
      const previous = sessions.get(session.nodeId)
      sessions.set(session.nodeId, session)
      grace.get(session.nodeId)?.cancel()
      grace.delete(session.nodeId)
      previous?.close(CLOSE.REPLACED, 'replaced by a newer connection')
      if (previous === undefined) presence(session.nodeId, true)
    },
    detach (session) {
      if (closing || sessions.get(session.nodeId) !== session) return // shutting down, or already replaced
      sessions.delete(session.nodeId)
      presence(session.nodeId, false)
      startGrace(session.nodeId)
    },
    get: nodeId => sessions.get(nodeId),
    expectReturn (nodeIds) {
      for (const nodeId of nodeIds) if (!sessions.has(nodeId)) startGrace(nodeId)
    },
    size: () => sessions.size,
    closeAll (code, reason) {
      closing = true
      for (const timer of grace.values()) timer.cancel()
      grace.clear()
      for (const session of [...sessions.values()]) session.close(code, reason)
    }
  }
}
