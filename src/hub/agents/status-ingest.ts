// Durable, group-committed status ingest (group-commit.ts), one round trip a batch: the batch
// goes to PostgreSQL as one message (ingestRoundSql, one statement per round, a round holding at
// most one report per server) that locks the servers, checks each report against the stored seq
// and the state machine, writes the accepted ones with their events and commits. Servers map to
// lanes by id, so a server's reports are checked and written in order, and lanes touch disjoint
// servers, so their row locks never deadlock one another.
//
// One report never fails the others. A batch that PostgreSQL refuses for its data (a constraint,
// a trigger, a value it cannot hold) is retried in halves (group-commit.ts, `isolate`) until the
// offending report fails alone: it gets the terminal UNSTORABLE, and so do its server's later
// reports of the batch, so per-server order holds; every other report commits. A transient
// failure (the database unreachable, a deadlock, shutdown) fails its batch with INTERNAL (no ack,
// nothing written) and the agents resend.
import type pg from 'pg'
import { ERROR, isLegalTransition, SERVER_STATUSES, type ServerStatus } from '../../agent-protocol/index.ts'
import { isDataError } from '../../db/pg-errors.ts'
import { jsonb } from '../../db/sql/events.ts'
import { ingestRoundSql, type RoundReport, type RoundRow } from '../../db/sql/status-batch.ts'
import { statusEvent } from '../bus.ts'
import { createGroupCommit, hexLane } from '../group-commit.ts'

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
    commit: async reports => await ingest(pool, reports),
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

/** The legal transitions as ingestRoundSql takes them: isLegalTransition stays the one source. */
const LEGAL = jsonb(Object.fromEntries(SERVER_STATUSES.map(from => [from, SERVER_STATUSES.filter(to => isLegalTransition(from, to))])))

/**
 * Sends the batch as one message: a statement per round, the k-th round holding each server's
 * k-th report of the batch (so a server's reports are checked in order, each against the one
 * before it). Several statements in one message run as one implicit transaction: all commit or
 * none does, with no round trip for BEGIN, COMMIT or ROLLBACK.
 */
async function ingest (pool: pg.Pool, reports: StatusReport[]): Promise<IngestOutcome[]> {
  const rounds: RoundReport[][] = []
  const seen = new Map<string, number>()
  reports.forEach((r, i) => {
    const round = seen.get(r.serverId) ?? 0
    seen.set(r.serverId, round + 1)
    const reason = r.reason ?? null
    const event = statusEvent(r.nodeId, { serverId: r.serverId, from: null, to: r.status, seq: r.seq, reason, at: r.at })
    ;(rounds[round] ??= []).push({ i, serverId: r.serverId, nodeId: r.nodeId, status: r.status, seq: r.seq, reason, at: r.at, event })
  })
  const results = await pool.query(rounds.map(round => ingestRoundSql(round, LEGAL)).join('; ')) as pg.QueryResult<RoundRow> | Array<pg.QueryResult<RoundRow>>
  const outcomes: IngestOutcome[] = []
  for (const result of Array.isArray(results) ? results : [results]) {
    for (const row of result.rows) outcomes[row.i] = outcome(row, reports[row.i] as StatusReport)
  }
  return outcomes
}

function outcome (row: RoundRow, report: StatusReport): IngestOutcome {
  switch (row.outcome) {
    case 'OK': case 'REPLAY': return { ok: true }
    case 'NOT_YOUR_SERVER': return { ok: false, code: 'NOT_YOUR_SERVER', message: 'this server is not on your node' }
    case 'ILLEGAL_TRANSITION': return { ok: false, code: 'ILLEGAL_TRANSITION', message: `${row.from as string} -> ${report.status} is not a legal transition` }
  }
}
