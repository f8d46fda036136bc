// One backup cycle, shared by the hub's scheduled job and API (src/hub/plugins/backups.ts) and by
// `npm run db:backup`: take a base backup, record it in `backups`, prune what the retention
// policy no longer keeps (base backups, then the WAL no kept backup needs), verify it by restore.
import type pg from 'pg'
import type { Backup, BackupRepository } from '../backups.ts'
import { takeBaseBackup } from './base-backup.ts'
import { selectExpired, type RetentionPolicy } from './retention.ts'
import { walPath, type BackupStore } from './store.ts'
import type { BackupLogger } from './types.ts'
import { verifyBackup, type VerifyResult } from './verify.ts'

export interface RunnerOptions {
  repo: BackupRepository
  store: BackupStore
  superuser: () => Promise<pg.Client>
  pgdata: string
  /** HUB_DATA_DIR: where verification restores (a temporary folder). */
  dataDir: string
  /** The hub's secrets saved with each backup (hub-backup.ts hubSecrets). */
  secrets: Array<{ name: string, file: string }>
  policy: RetentionPolicy
  /** Moves what PostgreSQL archived into the store now (the hub's archiver); absent in the CLI. */
  flushWal?: () => Promise<void>
  log: BackupLogger
  now: () => Date
}

export function createBackupRunner (opts: RunnerOptions) {
  const { repo, store, log, now } = opts

  /** Waits until the WAL segment that ends the backup is in the store (the hub's archiver moves it). */
  async function walArchived (segment: string, timeoutMs = 120_000): Promise<void> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      await opts.flushWal?.()
      if (await store.exists(walPath(segment))) return
      if (Date.now() > deadline) throw new Error(`WAL segment ${segment} did not reach the backup folder within ${timeoutMs / 1000} s: is archiving failing (hub_backup_archive_failing)?`)
      await new Promise(resolve => setTimeout(resolve, 250))
    }
  }

  /** `started` is told the RUNNING row as soon as it exists. */
  async function backup (started?: (row: Backup) => void): Promise<Backup> {
    const row = await repo.start(now())
    started?.(row)
    try {
      const manifest = await takeBaseBackup({ superuser: opts.superuser, pgdata: opts.pgdata, store, secrets: opts.secrets, log })
      const sizeBytes = manifest.files.reduce((sum, f) => sum + f.size, 0)
      log.info({ backupId: row.id, storeId: manifest.id, sizeBytes, stopLsn: manifest.stopLsn }, 'base backup taken')
      return await repo.succeeded(row.id, {
        storeId: manifest.id,
        sizeBytes,
        startLsn: manifest.startLsn,
        stopLsn: manifest.stopLsn,
        timeline: manifest.timeline,
        finishedAt: new Date(manifest.finishedAt)
      })
    } catch (err) {
      log.error({ err, backupId: row.id }, 'base backup failed')
      await repo.failed(row.id, (err as Error).message, now())
      throw err
    }
  }

  /** Removes the base backups the policy lets go, then the WAL older than the oldest one kept. */
  async function prune (): Promise<{ bases: string[], wal: number }> {
    const manifests = await store.listBases()
    const expired = selectExpired(manifests, opts.policy, now()).map(m => m.id)
    for (const id of expired) await store.removeBase(id)
    await repo.pruned(expired, now())
    const kept = manifests.filter(m => !expired.includes(m.id)).sort((a, b) => a.startWal.localeCompare(b.startWal))
    const oldest = kept[0]
    const wal = oldest === undefined ? 0 : await store.removeWalBefore(oldest.startWal, oldest.timeline)
    if (expired.length > 0 || wal > 0) log.info({ bases: expired, wal }, 'backup retention pruned')
    return { bases: expired, wal }
  }

  async function verify (row: Backup): Promise<{ row: Backup, result: VerifyResult }> {
    if (row.storeId === null || row.status !== 'SUCCEEDED') throw new Error(`backup ${row.id} is ${row.status}: only a finished backup can be verified`)
    if (row.prunedAt !== null) throw new Error(`backup ${row.id} was removed by retention`)
    const manifest = await store.readManifest(row.storeId)
    await walArchived(manifest.stopWal)
    const result = await verifyBackup({ store, backupId: row.storeId, workDir: opts.dataDir, log })
    log[result.ok ? 'info' : 'error']({ backupId: row.id, ok: result.ok, detail: result.detail, ms: result.ms }, 'backup verified by restore')
    return { row: await repo.verified(row.id, result.ok, result.detail, now()), result }
  }

  return {
    backup,
    prune,
    verify,
    /** The whole cycle: backup, retention, verification. A failed prune is logged, not thrown. */
    async cycle (started?: (row: Backup) => void): Promise<Backup> {
      let row = await backup(started)
      await prune().catch(err => log.warn({ err }, 'backup retention failed; the next backup tries again'))
      row = (await verify(row)).row
      return row
    }
  }
}

export type BackupRunner = ReturnType<typeof createBackupRunner>
