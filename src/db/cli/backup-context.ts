// What `npm run db:backup` and `npm run db:restore` share: the config checks that refuse an
// external DATABASE_URL, the store under HUB_BACKUP_DIR, and a line-printing exit.
import path from 'node:path'
import { loadConfig, type Config } from '../../hub/config.ts'
import { backupDir } from '../backup/hub-backup.ts'
import { parseKeyring } from '../backup/keys.ts'
import { openStore, type BackupStore } from '../backup/store.ts'
import type { BackupLogger } from '../backup/types.ts'

export const EXTERNAL_CLI = 'DATABASE_URL is set: the hub does not own that PostgreSQL cluster, so this command cannot copy or restore its files. ' +
  'Use the database\'s own backups (pgBackRest, WAL-G, a managed service\'s backups) and keep the agent key set: see docs/operations.md#external-postgresql'

/** Exit codes: 1 failure, 2 refused (wrong setup or arguments). */
export function refuse (message: string, code = 2): never {
  process.stderr.write(`${message}\n`)
  process.exit(code)
}

export function cliContext (name: string): { config: Config, store: BackupStore, pgdata: string, log: BackupLogger } {
  let config: Config
  try {
    config = loadConfig(process.env)
  } catch (err) {
    refuse(`${name}: ${(err as Error).message}`)
  }
  if (config.databaseUrl !== undefined) refuse(`${name}: ${EXTERNAL_CLI}`)
  const line = (level: string) => (obj: object, msg: string) => {
    if (level !== 'info' || config.logLevel === 'debug') process.stderr.write(`${name}: ${level}: ${msg} ${JSON.stringify(obj, (k, v) => k === 'err' ? String(v) : v)}\n`)
  }
  const log = { info: line('info'), warn: line('warn'), error: line('error') }
  const store = openStore({ dir: backupDir(config), keys: parseKeyring(config.backupKey, config.backupOldKeys), log })
  return { config, store, pgdata: path.resolve(config.dataDir, 'postgres'), log }
}
