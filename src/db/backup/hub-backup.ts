// What the hub that owns the embedded cluster hands its backup plugin (buildHub's `backup`
// option): the cluster, the store, the WAL archiver, and the secrets a base backup saves.
import path from 'node:path'
import type { Config } from '../../hub/config.ts'
import type { EmbeddedPostgres } from '../embedded-postgres.ts'
import { walArchiver, type WalArchiver } from './archiver.ts'
import { parseKeyring } from './keys.ts'
import { directoryDestination, openStore, type BackupStore } from './store.ts'
import type { BackupLogger } from './types.ts'

export interface HubBackup {
  embedded: EmbeddedPostgres
  store: BackupStore
  /** Absent when HUB_BACKUP_ARCHIVE=false. */
  archiver?: WalArchiver
  /** The hub's secrets a base backup saves (secrets/<name>.seg). */
  secrets: Array<{ name: string, file: string }>
}

/** The folder archive_command copies finished WAL segments into (writable by the `postgres` user). */
export function walSpool (config: Pick<Config, 'dataDir'>): string {
  return path.resolve(config.dataDir, 'wal-spool')
}

export function backupDir (config: Pick<Config, 'dataDir' | 'backupDir'>): string {
  return path.resolve(config.backupDir ?? path.join(config.dataDir, 'backups'))
}

/** The secrets on disk under HUB_DATA_DIR (agent-keys.json only when HUB_AGENT_KEYS is unset). */
export function hubSecrets (config: Pick<Config, 'dataDir' | 'agentKeys'>): Array<{ name: string, file: string }> {
  const names = ['postgres-password', 'hub-role-password', ...(config.agentKeys === undefined ? ['agent-keys.json'] : [])]
  return names.map(name => ({ name, file: path.resolve(config.dataDir, name) }))
}

/** Opens the store and starts the archiver (when archiving is on) for a started embedded cluster. */
export function startHubBackup (config: Config, embedded: EmbeddedPostgres, log: BackupLogger): HubBackup {
  const keys = parseKeyring(config.backupKey, config.backupOldKeys)
  const copy = config.backupCopyDir === undefined ? undefined : directoryDestination(config.backupCopyDir)
  const store = openStore({ dir: backupDir(config), keys, copy, log })
  if (keys.current === undefined) {
    log.warn({ dir: store.dir }, 'HUB_BACKUP_KEY is not set: backups and archived WAL are not encrypted, and the hub\'s secrets are left out of HUB_BACKUP_COPY_DIR')
  }
  let archiver: WalArchiver | undefined
  if (config.backupArchive) {
    archiver = walArchiver({ spool: walSpool(config), store, log, pgdata: embedded.pgdata, superuser: async () => await embedded.superuser('postgres') })
    archiver.start()
  }
  return { embedded, store, archiver, secrets: hubSecrets(config) }
}
