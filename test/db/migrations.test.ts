// The migration runner (src/db/migrator.ts) against a real PostgreSQL: it keeps Prisma's ledger
// as `prisma migrate deploy` would, applies each migration once even when hubs race, refuses
// edited or failed history, and reverts cleanly with down.sql.
import { createHash } from 'node:crypto'
import { appendFile, cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import t from 'tap'
import type { Test } from 'tap'
import { MIGRATIONS_DIR, MigrationError, markRolledBack, migrate, migrateDown, type LedgerRow as MigratorLedgerRow } from '../../src/db/migrator.ts'
import { readCatalog } from '../helpers/catalog.ts'
import { withClient } from '../helpers/cluster.ts'
import { createEmptyDatabase } from '../helpers/database.ts'

interface LedgerRow extends MigratorLedgerRow {
  applied_steps_count: number
}

async function ledger (url: string): Promise<LedgerRow[]> {
  return await withClient(url, async client => (await client.query<LedgerRow>(
    `SELECT id, migration_name, checksum, finished_at, rolled_back_at, logs, applied_steps_count
       FROM "_prisma_migrations" ORDER BY migration_name, started_at`)).rows)
}

async function tableExists (url: string, table: string): Promise<boolean> {
  return await withClient(url, async client =>
    (await client.query<{ oid: string | null }>('SELECT to_regclass($1)::text AS oid', [`public.${table}`])).rows[0]?.oid != null)
}

/** Migration folders and the sha256 of their migration.sql, read here rather than trusted from the runner. */
async function migrationFiles (dir = MIGRATIONS_DIR): Promise<Array<{ name: string, checksum: string }>> {
  const folders = (await readdir(dir, { withFileTypes: true })).filter(e => e.isDirectory()).map(e => e.name).sort()
  return await Promise.all(folders.map(async name => ({
    name,
    checksum: createHash('sha256').update(await readFile(path.join(dir, name, 'migration.sql'))).digest('hex')
  })))
}

/** A scratch copy of prisma/migrations, removed after `t`. */
async function copyMigrations (t: Test): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'hub-migrations-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  await cp(MIGRATIONS_DIR, dir, { recursive: true })
  return dir
}

/** The MigrationError `promise` rejects with; fails the test if it resolves or rejects otherwise. */
async function migrationError (t: Test, promise: Promise<unknown>): Promise<MigrationError> {
  const outcome = await promise.then(value => ({ value }), (err: unknown) => ({ err }))
  if ('value' in outcome) throw new Error(`expected a MigrationError, got ${JSON.stringify(outcome.value)}`)
  t.type(outcome.err, MigrationError)
  return outcome.err as MigrationError
}

const files = await migrationFiles()
const names = files.map(f => f.name)

t.test('applies every migration to an empty database, and records it as Prisma does', async t => {
  const { url } = await createEmptyDatabase(t)
  t.same(await migrate(url), names, 'every folder is applied, in order')
  const rows = await ledger(url)
  t.same(rows.map(r => r.migration_name), names, 'one ledger row per folder')
  for (const [n, row] of rows.entries()) {
    t.equal(row.checksum, files[n]!.checksum, `${row.migration_name}: checksum is the sha256 of migration.sql`)
    t.ok(row.finished_at instanceof Date, `${row.migration_name}: finished`)
    t.equal(row.rolled_back_at, null, `${row.migration_name}: not rolled back`)
    t.equal(row.applied_steps_count, 1, `${row.migration_name}: applied_steps_count 1`)
  }

  t.same(await migrate(url), [], 'a second run applies nothing')
  t.same(await ledger(url), rows, 'and leaves the ledger as it was')
})

t.test('two runs at once apply each migration exactly once', async t => {
  const { url } = await createEmptyDatabase(t)
  const results = await Promise.all([migrate(url), migrate(url)])
  // Which run wins the lock is up to the scheduler; one applies everything, the other nothing.
  t.same(results.toSorted((a, b) => a.length - b.length), [[], names], 'one run applies everything, the other nothing')
  t.same((await ledger(url)).map(r => r.migration_name), names, 'exactly one ledger row per migration')
})

t.test('a migration edited after it was applied is refused', async t => {
  const { url } = await createEmptyDatabase(t)
  const dir = await copyMigrations(t)
  await migrate(url, { dir })
  const edited = names.at(-1)!
  await appendFile(path.join(dir, edited, 'migration.sql'), '\n-- an innocent-looking edit\n')

  const err = await migrationError(t, migrate(url, { dir }))
  t.match(err.message, edited, 'the error names the migration')
  t.match(err.message, /edited/, 'and says what is wrong')
  t.equal((await ledger(url)).length, names.length, 'nothing was recorded')
})

t.test('a failing migration is recorded, leaves nothing behind, and blocks later runs until marked rolled back', async t => {
  const { url } = await createEmptyDatabase(t)
  const dir = await copyMigrations(t)
  const broken = '99990101000000_broken'
  const sql = path.join(dir, broken, 'migration.sql')
  await mkdir(path.dirname(sql))
  // The first statement succeeds, the second fails: the table must not survive.
  await writeFile(sql, 'CREATE TABLE "broken_probe" (id integer);\nSELECT * FROM "no_such_table";\n')

  const err = await migrationError(t, migrate(url, { dir }))
  t.match(err.message, broken, 'the error names the migration')
  t.match(err.message, /no_such_table/, 'and carries PostgreSQL\'s')
  t.notOk(await tableExists(url, 'broken_probe'), 'nothing of the failed migration was applied')
  t.ok(await tableExists(url, 'users'), 'the migrations before it were')
  const failed = (await ledger(url)).filter(r => r.migration_name === broken)
  t.equal(failed.length, 1, 'the failure is in the ledger')
  t.equal(failed[0]?.finished_at, null, 'as unfinished')
  t.equal(failed[0]?.rolled_back_at, null, 'and not rolled back')
  t.match(failed[0]?.logs, /no_such_table/, 'with the error in its logs')

  const blocked = await migrationError(t, migrate(url, { dir }))
  t.match(blocked.message, new RegExp(`${broken} failed earlier and blocks`), 'the next run is refused')
  t.match(blocked.message, `--rolled-back ${broken}`, 'and says how to unblock it')

  await writeFile(sql, 'CREATE TABLE "broken_probe" (id integer);\n')
  await markRolledBack(url, broken)
  t.same(await migrate(url, { dir }), [broken], 'once fixed and marked rolled back, it applies')
  t.ok(await tableExists(url, 'broken_probe'), 'its table now exists')
  const history = (await ledger(url)).filter(r => r.migration_name === broken)
  t.equal(history.length, 2, 'the failed attempt stays in the ledger, as with Prisma')
  t.ok(history.some(r => r.rolled_back_at !== null && r.finished_at === null), 'marked rolled back')
  t.ok(history.some(r => r.rolled_back_at === null && r.finished_at !== null), 'then applied')

  const notFailed = await migrationError(t, markRolledBack(url, broken))
  t.match(notFailed.message, /not recorded as failed/, 'only a failed migration can be marked rolled back')
})

t.test('reverting a migration without down.sql is refused', async t => {
  const { url } = await createEmptyDatabase(t)
  const dir = await copyMigrations(t)
  const latest = names.at(-1)!
  await rm(path.join(dir, latest, 'down.sql'), { force: true })
  await migrate(url, { dir })
  const before = await readCatalog(url)

  const err = await migrationError(t, migrateDown(url, { dir }))
  t.match(err.message, `${latest} has no down.sql`, 'the error names the migration and the missing file')
  t.same(await readCatalog(url), before, 'the schema is untouched')
  t.same((await ledger(url)).map(r => r.migration_name), names, 'and so is the ledger')
})

t.test('up, down to nothing, and up again gives the same schema', async t => {
  const { url } = await createEmptyDatabase(t)
  await migrate(url)
  const up = await readCatalog(url)
  t.ok(Object.keys(up.tables).length > 1, 'the migrations create tables')

  // Every migration ships a down.sql, so the whole history can be walked back, newest first.
  for (const name of names.toReversed()) t.equal(await migrateDown(url), name, `reverts ${name}`)
  const down = await readCatalog(url)
  t.same(Object.keys(down.tables), ['_prisma_migrations'], 'no table is left but the ledger')
  t.same(down.enums, {}, 'no enum type is left')
  t.same(down.others, [], 'nor anything else')
  t.same(await ledger(url), [], 'the ledger is empty')

  t.same(await migrate(url), names, 'every migration applies again')
  t.same(await readCatalog(url), up, 'tables, columns, indexes, constraints and enums as before')
})
