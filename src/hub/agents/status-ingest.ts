// Durable, group-committed status ingest (group-commit.ts): a batch's servers are locked, each
// report is checked against the stored seq and the state machine in arrival order, and the
// accepted ones are written with one multi-row statement together with their events, in one
// transaction of two round trips (BEGIN with the lock; the write, the events and COMMIT). Servers map to lanes by id, so a server's reports are checked and written in
// order, and lanes touch disjoint servers, so their row locks never deadlock one another.
//
// One report never fails the others. A batch that PostgreSQL refuses for its data (a constraint,
// a trigger, a value it cannot hold) is retried in halves (group-commit.ts, `isolate`) until the
// offending report fails alone: it gets the terminal UNSTORABLE, and so do its server's later
// reports of the batch, so per-server order holds; every other report commits. A transient
// failure (the database unreachable, a deadlock, shutdown) fails its batch with INTERNAL (no ack,
// nothing written) and the agents resend.
import type pg from 'pg'
import { ERROR, isLegalTransition, type ServerStatus } from '../../agent-protocol/index.ts'
import { isDataError } from '../../db/pg-errors.ts'
import { byId, lockServersSql, writeTransitionsSql, type ServerRow, type StoredServer, type TransitionRow } from '../../db/sql/status-batch.ts'
import { statusEvent } from '../bus.ts'
import { createGroupCommit, hexLane } from '../group-commit.ts'
import { inBatchTransaction, type Tx } from '../../db/sql/transaction.ts'

export interface StatusReport {
  nodeId: string
  serverId: string
  status: ServerStatus
  seq: number
  at: Date
  reason?: string
}

export type IngestOutcome =
  | { ok: true }
  | { ok: false, code: 'NOT_YOUR_SERVER' | 'ILLEGAL_TRANSITION' | 'INTERNAL' | 'UNSTORABLE', message: string }

export interface StatusIngest {
  submit (report: StatusReport): Promise<IngestOutcome>
  /** Waits for queued reports to commit; later submissions are refused. */
  drain (): Promise<void>
  /** Reports waiting in the lanes (hub_write_queue_depth). */
  depth (): number
}

export interface StatusIngestOptions {
  pool: pg.Pool
  lanes?: number
  maxBatch?: number
  /** Reports waiting per lane before new ones are refused (INTERNAL, resend later). */
  maxQueue?: number
  /** Told each batch's size (hub_write_batch_size). */
  onBatch?: (size: number) => void
  log: { error (obj: object, msg: string): void }
}

const REFUSED = {
  error: 'storage failed; resend later',
  overloaded: 'hub overloaded; resend later',
  closed: 'hub shutting down; resend later'
} as const

export function createStatusIngest (options: StatusIngestOptions): StatusIngest {
  const { pool, lanes = 4, maxBatch = 1_000, maxQueue = 20_000, onBatch, log } = options
  return createGroupCommit<StatusReport, IngestOutcome>({
    lanes,
    ...(onBatch === undefined ? {} : { onBatch }),
    laneOf: r => hexLane(r.serverId),
    maxBatch,
    maxQueue,
    commit: async reports => await inBatchTransaction<ServerRow, IngestOutcome[]>(pool, lockServersSql([...new Set(reports.map(r => r.serverId))]), (rows, tx) => check(byId(rows), tx, reports)),
    fail: (why, err) => {
      if (why === 'error') log.error({ err }, 'status batch failed; agents will resend')
      return { ok: false, code: ERROR.INTERNAL, message: REFUSED[why] }
    },
    isolate: {
      isItemFault: isDataError,
      keyOf: r => r.serverId,
      unstorable: err => {
        log.error({ err }, 'status report refused by storage; answered UNSTORABLE')
        return { ok: false, code: ERROR.UNSTORABLE, message: 'storage refused this report; do not resend it' }
      }
    }
  })
}

/** Checks the reports against the locked `servers`, in order, and writes the accepted ones at commit. */
function check (servers: Map<string, StoredServer>, tx: Tx, reports: StatusReport[]): IngestOutcome[] {
  const rows: Array<TransitionRow & { nodeId: string }> = []
  const finals = new Map<string, TransitionRow>()
  const outcomes = reports.map((r): IngestOutcome => {
    const server = servers.get(r.serverId)
    if (server === undefined || server.nodeId !== r.nodeId) return { ok: false, code: 'NOT_YOUR_SERVER', message: 'this server is not on your node' }
    if (r.seq <= server.seq) return { ok: true } // replay of something already recorded
    if (!isLegalTransition(server.status as ServerStatus, r.status)) {
      return { ok: false, code: 'ILLEGAL_TRANSITION', message: `${server.status} -> ${r.status} is not a legal transition` }
    }
    const row = { serverId: r.serverId, nodeId: r.nodeId, from: server.status, to: r.status, seq: r.seq, reason: r.reason ?? null, at: r.at }
    rows.push(row)
    finals.set(r.serverId, row)
    server.status = r.status
    server.seq = r.seq
    return { ok: true }
  })
  if (rows.length > 0) {
    tx.atCommit(writeTransitionsSql(rows, finals))
    tx.emit(rows.map(row => statusEvent(row.nodeId, row)))
  }
  return outcomes
}
