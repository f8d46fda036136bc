// Applies prisma/migrations (Prisma's folder format) and keeps Prisma's own ledger,
// `_prisma_migrations`, exactly as `prisma migrate deploy` would: same table, same checksum
// (sha256 of migration.sql, hex), same advisory lock key. So `prisma migrate status|deploy`
// on a machine that has Prisma's schema engine agrees with what this runner did.
//
// Concurrency: every run holds the session-level advisory lock 72707369 (Prisma's) on one
// dedicated connection, so two hubs starting at once apply each migration exactly once: the
// second waits, then re-reads the ledger and finds nothing pending.
import { createHash, randomUUID } from 'node:crypto'
import { readdir, readFile } from 'node:fs/promises'
import path from 'node:path'
import pg from 'pg'

export const MIGRATIONS_DIR = path.resolve(import.meta.dirname, '../../prisma/migrations')
const LOCK_KEY = 72707369
const LOCK_TIMEOUT = '60s'

const LEDGER_DDL = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
  "id" VARCHAR(36) PRIMARY KEY NOT NULL,
  "checksum" VARCHAR(64) NOT NULL,
  "finished_at" TIMESTAMPTZ,
  "migration_name" VARCHAR(255) NOT NULL,
  "logs" TEXT,
  "rolled_back_at" TIMESTAMPTZ,
  "started_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
  "applied_steps_count" INTEGER NOT NULL DEFAULT 0
)`

export interface MigrationFile {
  name: string
  sql: string
  checksum: string
  /** Contents of the folder's optional down.sql. */
  down?: string
}

/** A row of Prisma's `_prisma_migrations` ledger, as the runner reads it. */
export interface LedgerRow {
  id: string
  migration_name: string
  checksum: string
  finished_at: Date | null
  rolled_back_at: Date | null
  logs: string | null
}

export class MigrationError extends Error {
  constructor (message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'MigrationError'
  }
}

export interface MigrateOptions {
  dir?: string
  log?: { info (obj: object, msg: string): void }
}

export const checksum = (sql: string): string => createHash('sha256').update(sql).digest('hex')

export async function readMigrations (dir = MIGRATIONS_DIR): Promise<MigrationFile[]> {
  const entries = await readdir(dir, { withFileTypes: true })
  const names = entries.filter(e => e.isDirectory()).map(e => e.name).sort()
  return await Promise.all(names.map(async name => {
    const sql = await readFile(path.join(dir, name, 'migration.sql'), 'utf8')
    const down = await readFile(path.join(dir, name, 'down.sql'), 'utf8').catch(() => undefined)
    return { name, sql, checksum: checksum(sql), ...(down === undefined ? {} : { down }) }
  }))
}

/** Runs `work` on one connection that holds the migration lock. */
async function withLock<T> (url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, application_name: 'hub-migrate' })
  await client.connect()
  try {
    await client.query(`SET lock_timeout = '${LOCK_TIMEOUT}'`)
    await client.query('SELECT pg_advisory_lock($1)', [LOCK_KEY])
    await client.query(LEDGER_DDL)
    return await work(client)
  } finally {
    // Closing the session releases the advisory lock even if the unlock itself fails.
    await client.query('SELECT pg_advisory_unlock($1)', [LOCK_KEY]).catch(() => {})
    await client.end()
  }
}

async function ledger (client: pg.Client): Promise<LedgerRow[]> {
  const { rows } = await client.query<LedgerRow>(
    'SELECT id, migration_name, checksum, finished_at, rolled_back_at, logs FROM "_prisma_migrations" ORDER BY started_at, migration_name')
  return rows
}

/** Applies every pending migration, each in its own transaction. Returns the names applied. */
export async function migrate (url: string, options: MigrateOptions = {}): Promise<string[]> {
  const files = await readMigrations(options.dir)
  return await withLock(url, async client => {
    const rows = await ledger(client)
    const failed = rows.find(r => r.finished_at === null && r.rolled_back_at === null)
    if (failed !== undefined) {
      throw new MigrationError(`migration ${failed.migration_name} failed earlier and blocks further migrations:\n${failed.logs ?? ''}\n` +
        `Fix it, then mark it rolled back: npm run db:migrate -- --rolled-back ${failed.migration_name}`)
    }
    const applied = new Map(rows.filter(r => r.finished_at !== null && r.rolled_back_at === null).map(r => [r.migration_name, r]))
    const byName = new Map(files.map(f => [f.name, f]))
    for (const row of applied.values()) {
      const file = byName.get(row.migration_name)
      if (file === undefined) {
        throw new MigrationError(`migration ${row.migration_name} is applied to the database but missing from ${options.dir ?? MIGRATIONS_DIR}: is this hub older than its database?`)
      }
      if (file.checksum !== row.checksum) {
        throw new MigrationError(`migration ${row.migration_name} was edited after it was applied (checksum ${row.checksum.slice(0, 12)}… in the database, ${file.checksum.slice(0, 12)}… on disk); restore the applied file and add a new migration instead`)
      }
    }
    const done: string[] = []
    for (const file of files.filter(f => !applied.has(f.name))) {
      const id = randomUUID()
      try {
        await client.query('BEGIN')
        await client.query('INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at) VALUES ($1, $2, $3, now())', [id, file.checksum, file.name])
        await client.query(file.sql)
        await client.query('UPDATE "_prisma_migrations" SET finished_at = now(), applied_steps_count = 1 WHERE id = $1', [id])
        await client.query('COMMIT')
      } catch (err) {
        await client.query('ROLLBACK')
        const message = err instanceof Error ? err.message : String(err)
        // Recorded the way Prisma records a failure: a row with logs and no finished_at.
        await client.query('INSERT INTO "_prisma_migrations" (id, checksum, migration_name, logs, started_at) VALUES ($1, $2, $3, $4, now())',
          [id, file.checksum, file.name, message])
        throw new MigrationError(`migration ${file.name} failed: ${message} (nothing of it was applied)`, { cause: err })
      }
      options.log?.info({ migration: file.name }, 'migration applied')
      done.push(file.name)
    }
    return done
  })
}

/** Reverts the latest applied migration with its down.sql, in one transaction. Returns its name. */
export async function migrateDown (url: string, options: MigrateOptions = {}): Promise<string> {
  const files = await readMigrations(options.dir)
  return await withLock(url, async client => {
    const applied = (await ledger(client)).filter(r => r.finished_at !== null && r.rolled_back_at === null)
    const latest = applied.map(r => r.migration_name).sort().at(-1)
    if (latest === undefined) throw new MigrationError('no applied migration to revert')
    const file = files.find(f => f.name === latest)
    if (file?.down === undefined) throw new MigrationError(`migration ${latest} has no down.sql: it cannot be reverted automatically`)
    await client.query('BEGIN')
    try {
      await client.query(file.down)
      await client.query('DELETE FROM "_prisma_migrations" WHERE migration_name = $1', [latest])
      await client.query('COMMIT')
    } catch (err) {
      await client.query('ROLLBACK')
      throw new MigrationError(`reverting ${latest} failed: ${err instanceof Error ? err.message : String(err)} (nothing was changed)`, { cause: err })
    }
    options.log?.info({ migration: latest }, 'migration reverted')
    return latest
  })
}

/** Marks a failed migration as rolled back so that the next run applies it again (`prisma migrate resolve --rolled-back`). */
export async function markRolledBack (url: string, name: string): Promise<void> {
  await withLock(url, async client => {
    const { rowCount } = await client.query(
      'UPDATE "_prisma_migrations" SET rolled_back_at = now() WHERE migration_name = $1 AND finished_at IS NULL AND rolled_back_at IS NULL', [name])
    if (rowCount === 0) throw new MigrationError(`migration ${name} is not recorded as failed`)
  })
}
