// Verification by restore (issue 14 item 5): a backup counts only once it has been restored.
// Restores the base backup into a temporary folder, replayed to the backup's own end
// ({ kind: 'immediate' }: the base files plus the WAL up to its stop LSN), starts a throwaway
// PostgreSQL on it, and checks:
// - every file against the manifest's sha256 (restoreDataDir throws BackupFileError naming it);
// - recovery ends (the archived WAL the backup needs is there and readable);
// - `_prisma_migrations` equals the migrations recorded in the manifest at backup time; a
//   difference from this repository's prisma/migrations is reported, not failed;
// - data checksums: reported when off (the full read then cannot find a damaged page);
// - a full read of every table of the public schema, rows and TOAST detoasted: data checksums are
//   on in PostgreSQL 18 clusters, so a damaged page fails the read.
// The folder is removed afterwards, whatever the outcome.
import { chmod, mkdtemp, rm } from 'node:fs/promises'
import path from 'node:path'
import { readMigrations, MIGRATIONS_DIR } from '../migrator.ts'
import { appliedMigrations, systemIdentifier } from './cluster-facts.ts'
import { runAs } from '../embedded-postgres.ts'
import { restoreDataDir } from './restore.ts'
import { BackupFileError } from './sealed.ts'
import type { BackupStore } from './store.ts'
import { startThrowaway, type Throwaway } from './throwaway.ts'
import type { BackupLogger } from './types.ts'

export interface VerifyResult {
  ok: boolean
  /** One line: what was checked, or what failed (naming the file or table). */
  detail: string
  /** Rows read per table (when the read ran). */
  tables: Record<string, number>
  ms: number
}

export interface VerifyOptions {
  store: BackupStore
  backupId: string
  /** Where the temporary folder goes (HUB_DATA_DIR: same disk as the cluster, traversable by `postgres`). */
  workDir: string
  migrationsDir?: string
  /** How long replay may take. */
  timeoutMs?: number
  log?: BackupLogger
}

/** Reads a secret saved with the backup (secrets/<name>.seg). */
export async function backupSecret (store: BackupStore, backupId: string, name: string): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of await store.open(`base/${backupId}/secrets/${name}.seg`)) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

function listDiff (expected: string[], got: string[]): string {
  const missing = expected.filter(n => !got.includes(n)).map(n => `${n} missing`)
  const extra = got.filter(n => !expected.includes(n)).map(n => `${n} not in the manifest`)
  return [...missing, ...extra].join('; ')
}

/** `_prisma_migrations` against the repository's migrations: '' when equal, else what differs. */
interface Queryable { query (sql: string): Promise<{ rows: any[] }> }

export async function compareMigrations (client: Queryable, dir = MIGRATIONS_DIR): Promise<string> {
  const expected = await readMigrations(dir)
  const { rows } = await client.query('SELECT migration_name, checksum FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL ORDER BY migration_name')
  const got = new Map<string, string>(rows.map((r: { migration_name: string, checksum: string }) => [r.migration_name, r.checksum]))
  const problems: string[] = []
  for (const m of expected) {
    const sum = got.get(m.name)
    if (sum === undefined) problems.push(`${m.name} not applied`)
    else if (sum !== m.checksum) problems.push(`${m.name} checksum differs`)
    got.delete(m.name)
  }
  for (const name of got.keys()) problems.push(`${name} applied but not in prisma/migrations`)
  return problems.join('; ')
}

/** Reads every row of every table in the public schema (heap and TOAST); rows per table. */
export async function readAllTables (client: Queryable): Promise<Record<string, number>> {
  // A sequential scan reads every heap page; an index-only scan could skip all-visible ones.
  await client.query('SET enable_indexscan = off; SET enable_indexonlyscan = off; SET enable_bitmapscan = off')
  const { rows } = await client.query("SELECT quote_ident(tablename) AS t FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")
  const counts: Record<string, number> = {}
  for (const { t } of rows as Array<{ t: string }>) {
    try {
      const res = await client.query(`SELECT count(*)::bigint AS n, coalesce(sum(length(x::text)), 0)::bigint AS bytes FROM public.${t} x`)
      counts[t.replaceAll('"', '')] = Number(res.rows[0].n)
    } catch (err) {
      throw new Error(`table ${t}: ${(err as Error).message}`, { cause: err })
    }
  }
  return counts
}

export async function verifyBackup (opts: VerifyOptions): Promise<VerifyResult> {
  const started = performance.now()
  const owner = await runAs()
  const tmp = await mkdtemp(path.join(path.resolve(opts.workDir), 'verify-'))
  const target = path.join(tmp, 'postgres')
  let cluster: Throwaway | undefined
  let tables: Record<string, number> = {}
  const notes: string[] = []
  const result = (ok: boolean, detail: string): VerifyResult => ({ ok, detail, tables, ms: Math.round(performance.now() - started) })
  try {
    // The folder stays root's: `postgres` may enter it (to reach its cluster) but not write in it,
    // so it cannot put a link where root is about to write (the restore hands over only what it wrote).
    await chmod(tmp, 0o711)
    const { manifest } = await restoreDataDir({ store: opts.store, target, to: { kind: 'immediate', id: opts.backupId }, owner })
    const password = await backupSecret(opts.store, opts.backupId, 'postgres-password')
    cluster = await startThrowaway({ pgdata: target, password })
    await cluster.promoted(opts.timeoutMs ?? 600_000)
    const client = await cluster.connect('hub')
    try {
      // The restored ledger must be the one recorded at backup time. The repository may have moved
      // on since (a newer release adds migrations): that is said, not failed, or every backup
      // older than a new migration would fail its verification.
      const applied = await appliedMigrations(client)
      const recorded = [...manifest.migrations].sort()
      if (applied.join('\n') !== recorded.join('\n')) {
        return result(false, `_prisma_migrations differs from the backup's manifest: ${listDiff(recorded, applied)}`)
      }
      const repo = await compareMigrations(client, opts.migrationsDir)
      if (repo !== '') notes.push(`not a failure: the backup's migrations differ from this repository's prisma/migrations (${repo}); the hub applies newer ones at start`)
      const sysid = await systemIdentifier(client)
      if (manifest.systemIdentifier !== undefined && sysid !== manifest.systemIdentifier) {
        return result(false, `the restored cluster's system identifier ${sysid ?? '?'} is not the backup's (${manifest.systemIdentifier})`)
      }
      const checksums = (await client.query<{ data_checksums: string }>('SHOW data_checksums')).rows[0]?.data_checksums
      if (checksums !== 'on') notes.push(`data checksums are ${checksums ?? 'unknown'}: the full read cannot detect a damaged page`)
      tables = await readAllTables(client)
    } finally {
      await client.end().catch(() => {})
    }
    const rows = Object.values(tables).reduce((a, b) => a + b, 0)
    return result(true, `restored ${manifest.files.length} files (sha256 checked), replayed to ${manifest.stopLsn}, migrations match the manifest, read ${rows} rows in ${Object.keys(tables).length} tables${notes.map(n => `; ${n}`).join('')}`)
  } catch (err) {
    // A BackupFileError's message starts with the file it names.
    const detail = err instanceof BackupFileError ? err.message : `${(err as Error).message}`
    opts.log?.warn({ err, backupId: opts.backupId }, 'backup verification failed')
    return result(false, detail)
  } finally {
    await cluster?.stop()
    await rm(tmp, { recursive: true, force: true })
  }
}
