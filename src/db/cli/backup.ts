// `npm run db:backup`: one backup cycle now (base backup, retention, verification by restore) of
// the embedded cluster of a hub running on HUB_DATA_DIR, by the same code as the hub's schedule
// and POST /api/backups. It needs that hub running: its cluster is what is copied, and its WAL
// archiver moves the segments the backup needs into HUB_BACKUP_DIR. It refuses when DATABASE_URL
// is set (the hub owns no cluster then), when the hub is not running, and when a backup runs.
// Prints the backups row as JSON; exit 0 when the backup was taken and verified, 1 otherwise.
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import pg from 'pg'
import { hubSecrets } from '../backup/hub-backup.ts'
import { parseRetention } from '../backup/retention.ts'
import { createBackupRunner } from '../backup/runner.ts'
import { createBackupRepository } from '../backups.ts'
import { createDatabase } from '../database.ts'
import { isRunning } from '../embedded-postgres.ts'
import { cliContext, refuse } from './backup-context.ts'

const { config, store, pgdata, log } = cliContext('db:backup')
if (!await isRunning(pgdata)) {
  refuse(`db:backup: no hub is running on ${path.resolve(config.dataDir)} (no live ${path.join(pgdata, 'postmaster.pid')}). Start the hub: it archives the WAL a backup needs; then run this again or POST /api/backups`)
}
// postmaster.pid: pid, data folder, start time, port, ...
const port = Number((await readFile(path.join(pgdata, 'postmaster.pid'), 'utf8')).split('\n')[3])
const secret = async (name: string) => (await readFile(path.join(config.dataDir, name), 'utf8')).trim()
const superuserPassword = await secret('postgres-password')
const db = createDatabase({
  url: `postgresql://hub:${encodeURIComponent(await secret('hub-role-password'))}@127.0.0.1:${port}/hub`,
  poolMax: 2,
  connectTimeoutMs: 10_000,
  idleTimeoutMs: 10_000,
  statementTimeoutMs: 0,
  log
})
try {
  const repo = createBackupRepository(db.prisma)
  const running = await repo.running()
  if (running !== null) refuse(`db:backup: backup ${running.id} is running (started ${running.startedAt.toISOString()})`)
  const runner = createBackupRunner({
    repo,
    store,
    superuser: async () => {
      const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', password: superuserPassword, database: 'hub', application_name: 'hub-superuser' })
      await client.connect()
      return client
    },
    pgdata,
    dataDir: config.dataDir,
    secrets: hubSecrets(config),
    policy: parseRetention(config.backupRetention),
    log,
    now: () => new Date()
  })
  const row = await runner.cycle()
  process.stdout.write(`${JSON.stringify({ ...row, sizeBytes: row.sizeBytes === null ? null : Number(row.sizeBytes) }, null, 2)}\n`)
  if (row.verifyOk !== true) process.exitCode = 1
} catch (err) {
  process.stderr.write(`db:backup: ${(err as Error).message}\n`)
  process.exitCode = 1
} finally {
  await db.close()
}
