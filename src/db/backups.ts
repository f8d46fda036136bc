// Backups of the embedded cluster: the one data-access module for the `backups` table
// (src/hub/plugins/backups.ts writes it, the admin API and /metrics read it).
import type { Backup, BackupStatus, PrismaClient } from './generated/client.ts'
import { conflict, mapping } from './domain-errors.ts'

export type { Backup, BackupStatus }

/** What a finished base backup reports (a subset of bk-data's Manifest). */
export interface BackupDone {
  storeId: string
  sizeBytes: number
  startLsn: string
  stopLsn: string
  timeline: number
  finishedAt: Date
}

export function createBackupRepository (prisma: PrismaClient) {
  return {
    /** Newest first. */
    async list (limit = 100): Promise<Backup[]> {
      return await prisma.backup.findMany({ orderBy: { startedAt: 'desc' }, take: limit })
    },

    async find (id: string): Promise<Backup | null> {
      return await prisma.backup.findUnique({ where: { id } })
    },

    async findByStoreId (storeId: string): Promise<Backup | null> {
      return await prisma.backup.findUnique({ where: { storeId } })
    },

    async running (): Promise<Backup | null> {
      return await prisma.backup.findFirst({ where: { status: 'RUNNING' }, orderBy: { startedAt: 'desc' } })
    },

    async start (now: Date): Promise<Backup> {
      return await mapping(async () => await prisma.backup.create({ data: { startedAt: now } }),
        { P2002: () => conflict('a backup is running (started by this hub, another hub on this data folder, or npm run db:backup)') })
    },

    async succeeded (id: string, done: BackupDone): Promise<Backup> {
      return await prisma.backup.update({
        where: { id },
        data: { status: 'SUCCEEDED', ...done, sizeBytes: BigInt(done.sizeBytes) }
      })
    },

    async failed (id: string, error: string, now: Date): Promise<Backup> {
      return await prisma.backup.update({ where: { id }, data: { status: 'FAILED', error: error.slice(0, 4_000), finishedAt: now } })
    },

    /**
     * Rows left RUNNING by a hub that stopped or died mid-backup: nothing finishes them any more.
     * Called when the owning hub starts, before it takes a new backup.
     */
    async abandonRunning (now: Date): Promise<number> {
      const { count } = await prisma.backup.updateMany({
        where: { status: 'RUNNING' },
        data: { status: 'FAILED', error: 'the hub stopped while this backup ran', finishedAt: now }
      })
      return count
    },

    async verified (id: string, ok: boolean, detail: string, now: Date): Promise<Backup> {
      return await prisma.backup.update({ where: { id }, data: { verifiedAt: now, verifyOk: ok, verifyDetail: detail.slice(0, 4_000) } })
    },

    async pruned (storeIds: readonly string[], now: Date): Promise<void> {
      if (storeIds.length === 0) return
      await prisma.backup.updateMany({ where: { storeId: { in: [...storeIds] }, prunedAt: null }, data: { prunedAt: now } })
    },

    /** For /metrics: the newest successful backup's finish time, and the newest verification's result. */
    async health (): Promise<{ lastSuccessAt: Date | null, lastVerifyOk: boolean | null }> {
      const [success, verify] = await Promise.all([
        prisma.backup.findFirst({ where: { status: 'SUCCEEDED' }, orderBy: { finishedAt: 'desc' }, select: { finishedAt: true } }),
        prisma.backup.findFirst({ where: { verifiedAt: { not: null } }, orderBy: { verifiedAt: 'desc' }, select: { verifyOk: true } })
      ])
      return { lastSuccessAt: success?.finishedAt ?? null, lastVerifyOk: verify?.verifyOk ?? null }
    }
  }
}

export type BackupRepository = ReturnType<typeof createBackupRepository>
