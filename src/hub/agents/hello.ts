// Reconciles a `hello` snapshot with the database: a snapshot status that differs from the
// stored one is the agent's truth and is persisted as a transition with reason `hello`; the
// stored seq becomes the larger of the two. Returns the stored seq per server for `welcome`.
import type pg from 'pg'
import type { HelloServer } from '../../agent-protocol/index.ts'
import { appendEvents } from '../../db/sql/events.ts'
import { lockNodeServers, writeTransitions, type TransitionRow } from '../../db/sql/status-batch.ts'
import { inTransaction } from '../../db/sql/transaction.ts'
import { statusEvent } from '../bus.ts'

export interface HelloResult {
  lastSeq: Record<string, number>
  /** Snapshot entries naming servers that are not on this node. */
  foreign: HelloServer[]
}

export async function reconcileHello (pool: pg.Pool, nodeId: string, snapshot: HelloServer[], now: Date): Promise<HelloResult> {
  return await inTransaction(pool, async client => {
    const servers = await lockNodeServers(client, nodeId)
    const rows: TransitionRow[] = []
    const finals = new Map<string, TransitionRow>()
    const foreign: HelloServer[] = []
    for (const entry of snapshot) {
      const stored = servers.get(entry.serverId)
      if (stored === undefined) {
        foreign.push(entry)
        continue
      }
      const seq = Math.max(stored.seq, entry.seq)
      if (entry.status !== stored.status || seq !== stored.seq) {
        const row = { serverId: entry.serverId, from: stored.status, to: entry.status, seq, reason: 'hello', at: now }
        if (entry.status !== stored.status) rows.push(row)
        finals.set(entry.serverId, row)
        stored.status = entry.status
        stored.seq = seq
      }
    }
    if (finals.size > 0) await writeTransitions(client, rows, finals)
    await appendEvents(client, rows.map(r => statusEvent(nodeId, r)))
    return {
      lastSeq: Object.fromEntries([...servers.values()].map(s => [s.id, s.seq])),
      foreign
    }
  })
}
