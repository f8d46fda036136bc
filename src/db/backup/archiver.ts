// Continuous WAL archiving: PostgreSQL's archive_command (run as the database's OS user) only
// copies a finished segment into a spool; the hub seals it into the store and copies it elsewhere.
import type { BackupStore } from './store.ts'
import type { BackupLogger } from './types.ts'

export interface ArchiveStatus {
  lastArchived?: string
  lastArchivedAt?: Date
  /** Segments waiting in the spool. */
  spooled: number
  /** Archiving keeps failing (PostgreSQL's archive_command or the hub's mover). */
  failing: boolean
  lastError?: string
  /** Seconds since the oldest segment still waiting was spooled (0 when none waits). */
  lagSeconds: number
}

export interface WalArchiver {
  start (): void
  stop (): Promise<void>
  status (): ArchiveStatus
  /** Moves everything spooled now into the store; resolves when done. */
  flush (): Promise<void>
}

export function walArchiver (opts: { spool: string, store: BackupStore, log: BackupLogger }): WalArchiver {
  throw new Error('not yet')
}

/** Extra `-c` settings for the postgres start: wal_level, archive_mode, archive_command, archive_timeout. */
export function archiveSettings (spool: string, archiveTimeoutS: number): string[] {
  throw new Error('not yet')
}
