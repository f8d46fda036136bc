// Leaf types shared by the backup modules (and by bk-ops's plugin, CLI and verify), so that none
// of them imports another just for a type.

/** What the backup code logs through; a pino Logger fits. */
export interface BackupLogger {
  info (obj: object, msg: string): void
  warn (obj: object, msg: string): void
  error (obj: object, msg: string): void
}

export interface BackupKey {
  /** 16 hex digits: the first 8 bytes of sha256(key). */
  id: string
  /** 32 bytes (AES-256). */
  key: Buffer
}

export interface Keyring {
  /** The key new files are sealed with; absent: files are written unencrypted (still checksummed). */
  current?: BackupKey
  /** Every key that may open a file (current and old), by id. */
  byId: ReadonlyMap<string, BackupKey>
  /** With a current key, unencrypted files are refused unless this is set (`unencrypted` in HUB_BACKUP_OLD_KEYS). */
  acceptPlain?: boolean
}

export interface ManifestFile { path: string, size: number, sha256: string }

export interface Manifest {
  id: string
  startedAt: string
  finishedAt: string
  timeline: number
  startLsn: string
  stopLsn: string
  startWal: string
  stopWal: string
  pgVersion: string
  /** pg_control_system().system_identifier of the cluster backed up: WAL of another cluster is not this backup's. */
  systemIdentifier?: string
  encrypted: boolean
  keyId?: string
  /** Every file of the data folder copied (paths relative to PGDATA, '/' separated), backup_label and tablespace_map included. */
  files: ManifestFile[]
  /** Every folder of the data folder (excluded ones included, empty), so a restore recreates empty ones. */
  directories: string[]
  /** Names of the hub's secrets saved with the backup (secrets/<name>.seg). */
  secrets: string[]
  /**
   * Settings a replay must not go below (PostgreSQL refuses to recover with a lower
   * max_connections etc. than the primary had); the embedded cluster sets some on its command
   * line, so a restore writes these into the restored postgresql.conf.
   */
  settings?: Record<string, string>
  /** _prisma_migrations.migration_name at backup time (applied ones, sorted). */
  migrations: string[]
}
