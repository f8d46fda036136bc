// Base backups of the embedded cluster while it runs (pg_backup_start / pg_backup_stop).
import type pg from 'pg'
import type { BackupStore } from './store.ts'
import type { BackupLogger, Manifest } from './types.ts'

export async function takeBaseBackup (opts: {
  superuser: () => Promise<pg.Client>
  pgdata: string
  store: BackupStore
  secrets: Array<{ name: string, file: string }>
  log?: BackupLogger
}): Promise<Manifest> {
  throw new Error('not yet')
}
