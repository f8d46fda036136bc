// Backups of the embedded PostgreSQL (issue 14; docs/operations.md#backups). Only the hub that
// owns the embedded cluster (start-hub.ts hands it `backup`: src/db/backup/hub-backup.ts) can
// copy its files, so only that hub declares the `hub-backup` queue's schedule (HUB_BACKUP_SCHEDULE)
// and works it: pg-boss files one job per occurrence, and that hub runs the cycle (base backup,
// retention, verification by restore: src/db/backup/runner.ts). Hubs on an external DATABASE_URL
// answer every request to start or verify one with 409 and the reason.
//
// One cycle and one verification at a time per hub: a second request gets 409 naming the running one.
import fp from 'fastify-plugin'
import type { ArchiveStatus } from '../../db/backup/archiver.ts'
import type { HubBackup } from '../../db/backup/hub-backup.ts'
import { parseRetention } from '../../db/backup/retention.ts'
import { createBackupRunner } from '../../db/backup/runner.ts'
import { createBackupRepository, type Backup, type BackupRepository } from '../../db/backups.ts'
import type { Config } from '../config.ts'
import { ConflictError, NotFoundError } from '../errors.ts'

export const BACKUP_QUEUE = 'hub-backup'

declare module 'fastify' {
  interface FastifyInstance {
    backups: Backups
  }
}

export interface BackupsStatus {
  /** This hub owns the cluster and can back it up. */
  available: boolean
  /** Why not, when it cannot. */
  reason?: string
  running?: string
  verifying?: string
  encrypted?: boolean
  archive?: ArchiveStatus
}

export interface Backups {
  readonly repo: BackupRepository
  list (): Promise<Backup[]>
  /** Starts a cycle now; resolves with its RUNNING row (409 when unavailable or one runs). */
  start (): Promise<Backup>
  /** Starts verifying a finished backup; resolves with its row (409 when unavailable or one runs). */
  verify (id: string): Promise<Backup>
  status (): BackupsStatus
  /** What /readyz says about backups (still ready): archiving failing, no encryption key. */
  warnings (): string[]
  /** Resolves when the cycle and verification under way (if any) have ended. */
  idle (): Promise<void>
}

export const EXTERNAL_REASON = 'this hub uses an external PostgreSQL (DATABASE_URL): it does not own that cluster and cannot copy its files. ' +
  'Back it up with the database\'s own tools (pgBackRest, WAL-G, managed backups) and keep the agent key set: see docs/operations.md#external-postgresql'

export default fp<{ config: Config, now: () => Date, backup?: HubBackup }>(async (app, { config, now, backup }) => {
  const repo = createBackupRepository(app.db.prisma)
  let cycle: { id?: string, done: Promise<unknown> } | undefined
  let verifying: { id: string, done: Promise<unknown> } | undefined
  let closing = false
  const unavailable = () => new ConflictError(`backups: ${EXTERNAL_REASON}`)

  const runner = backup === undefined
    ? undefined
    : createBackupRunner({
      repo,
      store: backup.store,
      superuser: async () => await backup.embedded.superuser(),
      pgdata: backup.embedded.pgdata,
      dataDir: config.dataDir,
      secrets: backup.secrets,
      policy: parseRetention(config.backupRetention),
      flushWal: async () => await backup.archiver?.flush(),
      log: app.log,
      now
    })

  /** Runs a cycle unless one runs; resolves with the RUNNING row once it exists. */
  const startCycle = async (): Promise<{ row: Backup, done: Promise<unknown> }> => {
    if (runner === undefined) throw unavailable()
    if (closing) throw new ConflictError('the hub is shutting down')
    if (cycle !== undefined) throw new ConflictError(`backup ${cycle.id ?? '(starting)'} is running`)
    const current: { id?: string, done: Promise<unknown> } = { done: Promise.resolve() }
    cycle = current
    let told: (row: Backup) => void = () => {}
    const row = new Promise<Backup>(resolve => { told = resolve })
    let failure: unknown
    current.done = runner.cycle(r => { current.id = r.id; told(r) })
      .catch(err => {
        failure = err
        if (current.id !== undefined) app.log.error({ err }, 'backup cycle failed')
      })
      .finally(() => { if (cycle === current) cycle = undefined })
    // The row exists before the backup starts; if even that insert fails (one RUNNING row per
    // cluster: another hub or npm run db:backup runs one), its error is the answer.
    const first = await Promise.race([row, current.done.then(() => undefined)])
    if (first === undefined) throw failure instanceof Error ? failure : new Error('the backup could not be recorded (see the hub log)')
    return { row: first, done: current.done }
  }

  if (runner !== undefined && backup !== undefined) {
    const abandoned = await repo.abandonRunning(now())
    if (abandoned > 0) app.log.warn({ abandoned }, 'backups left RUNNING by an earlier run of this hub marked FAILED')
    const boss = app.queue.boss
    // A cycle (backup, retention, verification) may take long on a big database; never retried:
    // the next occurrence takes a new one.
    await boss.createQueue(BACKUP_QUEUE, { retryLimit: 0, expireInSeconds: 6 * 3_600, retentionSeconds: 86_400, deleteAfterSeconds: 7 * 86_400 })
    await boss.schedule(BACKUP_QUEUE, config.backupSchedule, null, { tz: 'UTC' })
    await boss.work(BACKUP_QUEUE, { pollingIntervalSeconds: Math.min(5, config.queueCronCheckS) }, async () => {
      if (closing) return
      if (cycle !== undefined) {
        app.log.info({ running: cycle.id }, 'scheduled backup skipped: one is running')
        return
      }
      await (await startCycle()).done
    })
  }

  const backups: Backups = {
    repo,
    list: async () => await repo.list(),
    start: async () => (await startCycle()).row,
    async verify (id) {
      if (runner === undefined) throw unavailable()
      const row = await repo.find(id)
      if (row === null) throw new NotFoundError('no such backup')
      if (row.status !== 'SUCCEEDED' || row.storeId === null) throw new ConflictError(`backup ${id} is ${row.status}: only a finished backup can be verified`)
      if (row.prunedAt !== null) throw new ConflictError(`backup ${id} was removed by retention`)
      if (verifying !== undefined) throw new ConflictError(`backup ${verifying.id} is being verified`)
      const current = { id, done: Promise.resolve() as Promise<unknown> }
      verifying = current
      current.done = runner.verify(row)
        .catch(err => app.log.error({ err, backupId: id }, 'backup verification could not run'))
        .finally(() => { if (verifying === current) verifying = undefined })
      return row
    },
    status () {
      if (backup === undefined) return { available: false, reason: EXTERNAL_REASON }
      return { available: true, running: cycle?.id, verifying: verifying?.id, encrypted: backup.store.keys.current !== undefined, archive: backup.archiver?.status() }
    },
    warnings () {
      if (backup === undefined) return []
      const warnings: string[] = []
      const archive = backup.archiver?.status()
      if (backup.archiver === undefined) warnings.push('WAL archiving is off (HUB_BACKUP_ARCHIVE=false): a restore can only go back to a base backup, and verification cannot replay a backup taken meanwhile')
      if (archive?.failing === true) warnings.push(`WAL archiving is failing (${archive.spooled} segments waiting, lag ${Math.round(archive.lagSeconds)} s${archive.lastError === undefined ? '' : `: ${archive.lastError}`}): pg_wal grows until the disk is full, and point-in-time recovery stops at the last archived segment`)
      if (backup.store.keys.current === undefined) warnings.push('no HUB_BACKUP_KEY: backups are not encrypted at rest, and the hub\'s secrets are left out of the copy kept elsewhere')
      return warnings
    },
    async idle () {
      await Promise.all([cycle?.done, verifying?.done])
    }
  }
  app.decorate('backups', backups)
  // A cycle under way gets until the shutdown timeout to end (it fails anyway once the cluster stops).
  app.addHook('onClose', async () => {
    closing = true
    let timer: NodeJS.Timeout | undefined
    await Promise.race([backups.idle(), new Promise(resolve => { timer = setTimeout(resolve, config.shutdownTimeoutMs) })])
    clearTimeout(timer)
  })
}, { name: 'hub-backups', dependencies: ['hub-database', 'hub-queue'] })
