// The operations metrics of /metrics: what an operator pages on (docs/operations.md lists them
// with alert rules). Read at scrape time from this hub's memory (connections, the event feed's
// cursor, prune runs), from PostgreSQL (live and recently finished actions, the newest event id),
// and from pg-boss (jobs by queue and state). A scrape whose database reads fail or take longer
// than READ_TIMEOUT_MS still answers: the gauges that need them are then empty (or 0) and hub_operations_read_ok is 0.
import type { FastifyInstance } from 'fastify'
import { Gauge, type Registry } from 'prom-client'
import { readOperations, type OperationsSnapshot } from '../db/sql/operations.ts'

const READ_TIMEOUT_MS = 2_000
/** "Recently finished" actions: the window of hub_actions_finished_recent. */
export const RECENT_S = 300

async function within<T> (ms: number, work: Promise<T>): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<undefined>(resolve => { timer = setTimeout(() => resolve(undefined), ms) })
  try {
    return await Promise.race([work.catch(() => undefined), timeout])
  } finally {
    clearTimeout(timer)
  }
}

interface QueueCounts { name: string, queuedCount: number, activeCount: number, failedCount: number, deferredCount: number }
interface Reads { db?: OperationsSnapshot, queues?: QueueCounts[] }

export function registerOperationsMetrics (app: FastifyInstance, registry: Registry): void {
  // prom-client collects every metric of a scrape concurrently: the reads are shared by all the
  // gauges of one scrape (single flight), and made afresh by the next.
  let reading: Promise<Reads> | undefined
  const read = async (): Promise<Reads> => await (reading ??= (async () => {
    const [db, queues] = await Promise.all([
      within<OperationsSnapshot>(READ_TIMEOUT_MS, readOperations(app.db.pool, RECENT_S)),
      app.hasDecorator('queue') ? within<QueueCounts[]>(READ_TIMEOUT_MS, app.queue.boss.getQueues()) : Promise.resolve(undefined)
    ])
    return { db, queues }
  })().finally(() => { reading = undefined }))
  const gauge = (name: string, help: string, labelNames: string[], fill: (g: Gauge, reads: () => Promise<Reads>) => unknown) =>
    new Gauge({ name, help, labelNames, registers: [registry], async collect () { this.reset(); await fill(this, read) } })

  gauge('hub_agents_connected', 'Agent connections held by this hub', [], g => g.set(app.hasDecorator('agents') ? app.agents.size() : 0))
  gauge('hub_panels_connected', 'Panel connections held by this hub', [], g => g.set(app.hasDecorator('panels') ? app.panels.size() : 0))
  gauge('hub_retention_prunes', 'Scheduled retention prunes this hub has run, by prune', ['prune'], g => {
    if (app.hasDecorator('retention')) for (const [prune, n] of Object.entries(app.retention.runs)) g.set({ prune }, n)
  })
  gauge('hub_event_feed_lag_events', 'Newest committed event id minus the newest this hub delivered to its sockets (0 when unreadable: see hub_operations_read_ok)', [], async (g, reads) => {
    const { db } = await reads()
    if (db === undefined || !app.hasDecorator('events')) return
    g.set(Math.max(0, Number(BigInt(db.lastEventId) - BigInt(app.events.lastId()))))
  })
  gauge('hub_actions_live', 'Live power actions (all hubs) by state', ['state'], async (g, reads) => {
    const { db } = await reads()
    if (db !== undefined) for (const state of ['QUEUED', 'DISPATCHED', 'ACKED']) g.set({ state }, db.live.find(r => r.state === state)?.n ?? 0)
  })
  gauge('hub_actions_finished_recent', `Power actions (all hubs) finished in the last ${RECENT_S} s, by state and error code (timeouts: DELIVERY_TIMEOUT, ACK_TIMEOUT, RUN_TIMEOUT)`, ['state', 'code'], async (g, reads) => {
    const { db } = await reads()
    if (db !== undefined) for (const r of db.finished) g.set({ state: r.state, code: r.code }, r.n)
  })
  gauge('hub_queue_jobs', 'pg-boss jobs by queue and state (failed: those still retained)', ['queue', 'state'], async (g, reads) => {
    const { queues } = await reads()
    for (const q of queues ?? []) {
      g.set({ queue: q.name, state: 'queued' }, q.queuedCount)
      g.set({ queue: q.name, state: 'deferred' }, q.deferredCount)
      g.set({ queue: q.name, state: 'active' }, q.activeCount)
      g.set({ queue: q.name, state: 'failed' }, q.failedCount)
    }
  })
  // Console and stats (console/console-hub.ts, console-relay.ts): ephemeral lines this hub gave
  // up on, and what it holds. Counts since the hub started (a scrape's rate() reads them).
  gauge('hub_console_lines_dropped', 'Console lines this hub dropped since it started: panel (a panel over its buffer bound; it is told `dropped`), relay (on the way to another hub)', ['where'], g => {
    if (!app.hasDecorator('consoleHub')) return
    g.set({ where: 'panel' }, app.consoleHub.counts().droppedLines)
    g.set({ where: 'relay' }, app.consoleRelay.dropped)
  })
  gauge('hub_console_servers', 'Servers this hub holds console state of: rings (last lines), stats (latest sample), watched (by a panel here)', ['kind'], g => {
    if (!app.hasDecorator('consoleHub')) return
    const c = app.consoleHub.counts()
    g.set({ kind: 'rings' }, c.rings)
    g.set({ kind: 'stats' }, c.stats)
    g.set({ kind: 'watched' }, c.watched)
  })
  gauge('hub_console_links', 'Direct console links between hubs: out (opened by this hub to send lines), in (opened by other hubs to this one)', ['direction'], g => {
    if (!app.hasDecorator('consoleLinks')) return
    g.set({ direction: 'out' }, app.consoleLinks.open)
    g.set({ direction: 'in' }, app.consoleLinksIn.size)
  })
  gauge('hub_console_relay_sent', 'Batches of console lines and stats this hub sent to other hubs since it started, by carrier: link (a direct link frame), notify (a PostgreSQL NOTIFY, when there is no link)', ['carrier'], g => {
    if (!app.hasDecorator('consoleRelay')) return
    g.set({ carrier: 'link' }, app.consoleRelay.sent.link)
    g.set({ carrier: 'notify' }, app.consoleRelay.sent.notify)
  })
  // Backups (src/hub/plugins/backups.ts): the table is shared, so every hub reports the newest
  // success and verification; the archiver's figures only from the hub that owns the cluster.
  const backupHealth = async () => app.hasDecorator('backups') ? await within(READ_TIMEOUT_MS, app.backups.repo.health()) : undefined
  gauge('hub_backup_last_success_timestamp_seconds', 'When the newest successful base backup finished (Unix seconds); absent when there is none', [], async g => {
    const at = (await backupHealth())?.lastSuccessAt
    if (at != null) g.set(at.getTime() / 1000)
  })
  gauge('hub_backup_last_verify_ok', '1 when the newest verification by restore passed, 0 when it failed; absent when none ran', [], async g => {
    const ok = (await backupHealth())?.lastVerifyOk
    if (ok != null) g.set(ok ? 1 : 0)
  })
  gauge('hub_backup_archive_lag_seconds', 'Seconds the oldest WAL segment waiting to be archived has waited (hub owning the embedded cluster only)', [], g => {
    const archive = app.hasDecorator('backups') ? app.backups.status().archive : undefined
    if (archive !== undefined) g.set(archive.lagSeconds)
  })
  gauge('hub_backup_archive_failing', '1 while WAL archiving keeps failing (pg_wal grows until the disk is full), else 0 (hub owning the embedded cluster only)', [], g => {
    const archive = app.hasDecorator('backups') ? app.backups.status().archive : undefined
    if (archive !== undefined) g.set(archive.failing ? 1 : 0)
  })
  gauge('hub_operations_read_ok', '1 when this scrape read both the database and the queue, else 0', [], async (g, reads) => {
    const { db, queues } = await reads()
    g.set(db !== undefined && queues !== undefined ? 1 : 0)
  })
}
