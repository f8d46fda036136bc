// Agent token revocation across hubs. Rotating a node's token or deleting the node NOTIFYs
// `{nodeId}` on the auth channel (db/nodes.ts, in the change's transaction); every hub's auth feed
// hears it at commit, and the hub holding the node's agent connection closes it with 4401 when
// the token version it authenticated with is no longer the node's (or the node is gone). Checking
// the version, rather than closing on sight, spares an agent that already reconnected with the
// new token. After the auth feed was cut off (notifications may be lost), every held node is
// re-checked in one query.
import { CLOSE } from '../../agent-protocol/index.ts'
import type { AgentSession } from './agent-session.ts'

export interface NodeRevocationDeps {
  /** The live session of a node on this hub. */
  sessionOf: (nodeId: string) => AgentSession | undefined
  /** The nodes held on this hub. */
  held: () => Array<{ nodeId: string }>
  /** Current token versions by node id; a deleted node is absent. */
  tokenVersions: (nodeIds: string[]) => Promise<Map<string, number>>
}

export interface NodeRevocation {
  /** Remembers the token version a session authenticated with. */
  track (session: AgentSession, tokenVersion: number): void
  /** A node's tokens changed: close its session here if its version is stale. */
  apply (nodeId: string): Promise<void>
  /** Re-checks every session held here. */
  recheckAll (): Promise<void>
}

export function createNodeRevocation (deps: NodeRevocationDeps): NodeRevocation {
  const versions = new WeakMap<AgentSession, number>()

  async function check (nodeIds: string[]): Promise<void> {
    if (nodeIds.length === 0) return
    const current = await deps.tokenVersions(nodeIds)
    for (const nodeId of nodeIds) {
      const session = deps.sessionOf(nodeId)
      if (session === undefined) continue
      const version = current.get(nodeId)
      if (version === undefined) session.close(CLOSE.UNAUTHORIZED, 'node deleted')
      else if (versions.get(session) !== version) session.close(CLOSE.UNAUTHORIZED, 'agent token rotated')
    }
  }

  return {
    track (session, tokenVersion) { versions.set(session, tokenVersion) },
    async apply (nodeId) {
      if (deps.sessionOf(nodeId) !== undefined) await check([nodeId])
    },
    async recheckAll () {
      await check(deps.held().map(h => h.nodeId))
    }
  }
}
