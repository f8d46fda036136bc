// Durable, group-committed status ingest.
//
// Reports are spread over `lanes` by server id; each lane runs at most one transaction at a
// time. While a lane's transaction is in flight, new reports queue behind it and all go into
// the next one: at low load a report commits alone and at once, under load batches grow by
// themselves (PostgreSQL's own group-commit idea), with no timer adding latency.
//
// Ordering: one server always maps to one lane, and a lane commits batches in order, so a
// server's reports are checked and written in arrival order. Lanes touch disjoint servers, so
// their row locks never deadlock one another.
//
// A failed transaction fails only its own batch: those reports get INTERNAL (no ack) and the
// agent resends them; nothing of the batch is written.
import type pg from 'pg'
import { isLegalTransition, type ServerStatus } from '../../agent-protocol/index.ts'
import { lockServers, writeTransitions, type TransitionRow } from '../../db/sql/status-batch.ts'
import { statusEvent, type Bus } from '../bus.ts'

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
  | { ok: false, code: 'NOT_YOUR_SERVER' | 'ILLEGAL_TRANSITION' | 'INTERNAL', message: string }

export interface StatusIngest {
  submit (report: StatusReport): Promise<IngestOutcome>
  /** Waits for queued reports to commit; later submissions are refused. */
  drain (): Promise<void>
}

export interface StatusIngestOptions {
  pool: pg.Pool
  bus: Bus
  lanes?: number
  maxBatch?: number
  /** Reports waiting per lane before new ones are refused (INTERNAL, resend later). */
  maxQueue?: number
  log: { error (obj: object, msg: string): void }
}

interface Pending { report: StatusReport, resolve: (outcome: IngestOutcome) => void }

function laneOf (serverId: string, lanes: number): number {
  // The uuid's last 8 hex digits are random enough to spread servers evenly.
  return Number.parseInt(serverId.slice(-8), 16) % lanes
}

export function createStatusIngest (options: StatusIngestOptions): StatusIngest {
  const { pool, bus, lanes = 4, maxBatch = 1_000, maxQueue = 20_000, log } = options
  const queues: Pending[][] = Array.from({ length: lanes }, () => [])
  const busy: Array<Promise<void> | undefined> = Array.from({ length: lanes }, () => undefined)
  let closed = false

  function schedule (lane: number): void {
    if (busy[lane] !== undefined || queues[lane]?.length === 0) return
    // setImmediate: let the frames of the current I/O phase join this batch.
    busy[lane] = new Promise<void>(resolve => setImmediate(resolve))
      .then(async () => { await flush(lane) })
      .finally(() => {
        busy[lane] = undefined
        schedule(lane)
      })
  }

  async function flush (lane: number): Promise<void> {
    const batch = (queues[lane] as Pending[]).splice(0, maxBatch)
    let outcomes: IngestOutcome[]
    let committed: Array<TransitionRow & { nodeId: string }> = []
    try {
      ({ outcomes, committed } = await commit(batch.map(p => p.report)))
    } catch (err) {
      log.error({ err, reports: batch.length }, 'status batch failed; agents will resend')
      outcomes = batch.map(() => ({ ok: false, code: 'INTERNAL', message: 'storage failed; resend later' }))
    }
    batch.forEach((p, i) => p.resolve(outcomes[i] as IngestOutcome))
    bus.publish(committed.map(row => statusEvent(row.nodeId, row)))
  }

  async function commit (reports: StatusReport[]) {
    const client = await pool.connect()
    try {
      await client.query('BEGIN')
      const servers = await lockServers(client, [...new Set(reports.map(r => r.serverId))])
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
      if (rows.length > 0) await writeTransitions(client, rows, finals)
      await client.query('COMMIT')
      return { outcomes, committed: rows }
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {})
      throw err
    } finally {
      client.release()
    }
  }

  return {
    async submit (report) {
      const lane = laneOf(report.serverId, lanes)
      const queue = queues[lane] as Pending[]
      if (closed || queue.length >= maxQueue) return { ok: false, code: 'INTERNAL', message: closed ? 'hub shutting down; resend later' : 'hub overloaded; resend later' }
      return await new Promise<IngestOutcome>(resolve => {
        queue.push({ report, resolve })
        schedule(lane)
      })
    },
    async drain () {
      closed = true
      while (busy.some(b => b !== undefined)) await Promise.all(busy)
    }
  }
}
