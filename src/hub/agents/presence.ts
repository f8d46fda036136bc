// Presence writes: a node connected or gone, persisted on its row with its `node.presence`
// event. Group-committed on one lane, so a storm of 10,000 reconnecting agents costs a few
// dozen transactions, not 10,000 (each of which would queue on the event counter), and one
// node's changes are written in the order they happened.
import type pg from 'pg'
import { appendEvents } from '../../db/sql/events.ts'
import { markNodeServersUnknown, writePresence, type PresenceChange } from '../../db/sql/presence.ts'
import { inTransaction } from '../../db/sql/transaction.ts'
import { presenceEvent, statusEvent } from '../bus.ts'
import { createGroupCommit, type Refusal } from '../group-commit.ts'

export interface PresenceWriter {
  setConnected (nodeId: string, connected: boolean): Promise<void>
  /** The node's servers become UNKNOWN (node lost). */
  markLost (nodeId: string): Promise<void>
  drain (): Promise<void>
}

export function createPresenceWriter (pool: pg.Pool, now: () => Date = () => new Date()): PresenceWriter {
  const writer = createGroupCommit<PresenceChange, Error | undefined>({
    commit: async changes => await inTransaction(pool, async client => {
      await writePresence(client, changes, changes.map(c => presenceEvent(c.nodeId, c.connected, c.at)))
      return changes.map(() => undefined)
    }),
    fail: (why: Refusal, err) => err instanceof Error ? err : new Error(`presence not written: ${why}`)
  })
  return {
    async setConnected (nodeId, connected) {
      const failed = await writer.submit({ nodeId, connected, at: now() })
      if (failed !== undefined) throw failed
    },
    async markLost (nodeId) {
      await inTransaction(pool, async client => {
        const lost = await markNodeServersUnknown(client, nodeId)
        await appendEvents(client, lost.map(s => statusEvent(nodeId, { ...s, to: 'UNKNOWN', seq: null, reason: 'node lost' })))
      })
    },
    drain: async () => { await writer.drain() }
  }
}
