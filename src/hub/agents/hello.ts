// Reconciles `hello` snapshots with the database, group-committed: after a hub restart thousands
// of agents say hello at once, and one transaction per hello would queue them all on the pool.
//
// Per node: a snapshot status that differs from the stored one is the agent's truth and is
// persisted as a transition with reason `hello`; the stored seq becomes the larger of the two.
// Returns the stored seq per server for `welcome`. Hellos of one batch are reconciled in order,
// so two hellos of the same node (a quick reconnect) see each other's effect.
import type pg from 'pg'
import type { HelloServer } from '../../agent-protocol/index.ts'
import { statusEvent, type NewEvent } from '../../db/sql/events.ts'
import { setNodeFeaturesSql } from '../../db/sql/node-features.ts'
import { byNode, lockNodeServersSql, writeTransitionsSql, type ServerRow, type StoredServer, type TransitionRow } from '../../db/sql/status-batch.ts'
import { inBatchTransaction, type Tx } from '../../db/sql/transaction.ts'
import { createGroupCommit, hexLane, type Refusal } from '../group-commit.ts'

/** `features`: what the welcome will negotiate (empty for a v1 agent); stored as the node's latest. */
export interface Hello { nodeId: string, servers: HelloServer[], at: Date, features?: readonly string[] }

export interface HelloResult {
  lastSeq: Record<string, number>
  /** Snapshot entries naming servers that are not on this node. */
  foreign: HelloServer[]
}

export interface HelloReconciler {
  reconcile (hello: Hello): Promise<HelloResult>
  drain (): Promise<void>
}

type Outcome = { ok: true, result: HelloResult } | { ok: false, err: Error }

export function createHelloReconciler (pool: pg.Pool, options: { lanes?: number, maxBatch?: number } = {}): HelloReconciler {
  const hellos = createGroupCommit<Hello, Outcome>({
    lanes: options.lanes ?? 1,
    laneOf: h => hexLane(h.nodeId),
    maxBatch: options.maxBatch ?? 500,
    commit: async batch => await inBatchTransaction<ServerRow, Outcome[]>(pool, lockNodeServersSql([...new Set(batch.map(h => h.nodeId))]), (rows, tx) =>
      reconcileHellos(byNode(rows), tx, batch).map(result => ({ ok: true, result }))),
    fail: (why: Refusal, err) => ({ ok: false, err: err instanceof Error ? err : new Error(`hello not recorded: ${why}`) })
  })
  return {
    async reconcile (hello) {
      const outcome = await hellos.submit(hello)
      if (!outcome.ok) throw outcome.err
      return outcome.result
    },
    drain: async () => { await hellos.drain() }
  }
}

/** `stored`: the batch's nodes' servers, locked. */
function reconcileHellos (stored: Map<string, Map<string, StoredServer>>, tx: Tx, batch: Hello[]): HelloResult[] {
  const rows: TransitionRow[] = []
  const events: NewEvent[] = []
  const finals = new Map<string, TransitionRow>()
  const results = batch.map(({ nodeId, servers, at }): HelloResult => {
    const own = stored.get(nodeId) ?? new Map<string, StoredServer>()
    const foreign: HelloServer[] = []
    for (const entry of servers) {
      const server = own.get(entry.serverId)
      if (server === undefined) {
        foreign.push(entry)
        continue
      }
      const seq = Math.max(server.seq, entry.seq)
      if (entry.status === server.status && seq === server.seq) continue
      const row = { serverId: entry.serverId, from: server.status, to: entry.status, seq, reason: 'hello', at }
      if (entry.status !== server.status) {
        rows.push(row)
        events.push(statusEvent(nodeId, row))
      }
      finals.set(entry.serverId, row)
      server.status = entry.status
      server.seq = seq
    }
    return { lastSeq: Object.fromEntries([...own.values()].map(s => [s.id, s.seq])), foreign }
  })
  if (finals.size > 0) tx.atCommit(writeTransitionsSql(rows, finals))
  const features = setNodeFeaturesSql(batch.map(h => ({ nodeId: h.nodeId, features: h.features ?? [] })))
  if (features !== null) tx.atCommit(features)
  tx.emit(events)
  return results
}
