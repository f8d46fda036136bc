// The PostgreSQL cluster shared by one `tap` run: global-setup.ts prepares it, every test file
// clones databases from its template (database.ts), global-teardown.ts stops it. tap runs those
// as separate processes, so they meet through a small JSON file in the temp folder.
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir, userInfo } from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import pg from 'pg'

const run = promisify(execFile)

export const TEMPLATE_DATABASE = 'hub_test_template'

export interface ClusterState {
  /** Connection string of the cluster's `postgres` maintenance database. */
  adminUrl: string
  template: string
  /** Set when global-setup started an embedded cluster (kept in this folder) that teardown must stop. */
  embeddedDir?: string
}

// One state file per checkout and per run. tap starts global-setup, every test file and
// global-teardown as children of its runner process, so the runner's pid (our parent's) names the
// run: two runs at once in one checkout (two terminals, two agents) never share, or stop, a cluster.
const REPO_ROOT = path.resolve(import.meta.dirname, '../..')
const STATE_PREFIX = `hub-test-cluster-${createHash('sha256').update(REPO_ROOT).digest('hex').slice(0, 12)}-`
const STATE_FILE = path.join(tmpdir(), `${STATE_PREFIX}${process.ppid}.json`)

export async function writeClusterState (state: ClusterState): Promise<void> {
  await writeFile(STATE_FILE, JSON.stringify(state, null, 2) + '\n', { mode: 0o600 })
}

async function readState (file: string): Promise<ClusterState | undefined> {
  const text = await readFile(file, 'utf8').catch(() => undefined)
  return text === undefined ? undefined : JSON.parse(text) as ClusterState
}

/** This run's state, or undefined when global-setup wrote none. */
export async function findClusterState (): Promise<ClusterState | undefined> {
  return await readState(STATE_FILE)
}

export async function readClusterState (): Promise<ClusterState> {
  const state = await findClusterState()
  if (state === undefined) {
    throw new Error(`no test cluster (${STATE_FILE} is missing): run tests through tap (npx tap ...), whose "before" script test/helpers/global-setup.ts prepares it`)
  }
  return state
}

export async function removeClusterState (file = STATE_FILE): Promise<void> {
  await rm(file, { force: true })
}

/** States left by earlier runs of this checkout whose tap runner is gone (killed before its teardown). */
export async function orphanedStates (): Promise<Array<{ file: string, state: ClusterState }>> {
  const orphans: Array<{ file: string, state: ClusterState }> = []
  for (const name of await readdir(tmpdir())) {
    if (!name.startsWith(STATE_PREFIX)) continue
    const runner = Number(name.slice(STATE_PREFIX.length, -'.json'.length))
    if (!Number.isInteger(runner) || isAlive(runner)) continue
    const file = path.join(tmpdir(), name)
    const state = await readState(file)
    if (state !== undefined) orphans.push({ file, state })
  }
  return orphans
}

function isAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    // EPERM: alive, but another user's.
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** The same server as `url`, another database. */
export function databaseUrl (url: string, database: string): string {
  const u = new URL(url)
  u.pathname = '/' + encodeURIComponent(database)
  return u.toString()
}

/**
 * Runs `work` on a fresh connection and closes it. Every wait is bounded: connecting, each
 * statement (server side), and the round trip (client side, for a server that stopped answering).
 */
export async function withClient<T> (url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: 10_000,
    statement_timeout: 60_000,
    query_timeout: 65_000,
    application_name: 'hub-test'
  })
  await client.connect()
  try {
    return await work(client)
  } finally {
    await client.end()
  }
}

/** Drops `name` and any session still in it; a no-op when it does not exist. */
export async function dropDatabase (admin: pg.Client, name: string): Promise<void> {
  const id = admin.escapeIdentifier(name)
  const { rows } = await admin.query<{ datistemplate: boolean }>('SELECT datistemplate FROM pg_database WHERE datname = $1', [name])
  // PostgreSQL refuses to drop a database flagged as a template.
  if (rows[0]?.datistemplate === true) await admin.query(`ALTER DATABASE ${id} WITH IS_TEMPLATE false`)
  await admin.query(`DROP DATABASE IF EXISTS ${id} WITH (FORCE)`)
}

/**
 * Stops an embedded cluster that startEmbeddedPostgres (src/db/embedded-postgres.ts) started in
 * `dataDir`, and removes the folder. Its handle lived in global-setup's process, long gone, so this
 * drives pg_ctl directly, as the same user: as root the cluster runs as `postgres`.
 */
export async function stopEmbeddedCluster (dataDir: string): Promise<void> {
  const pgdata = path.join(dataDir, 'postgres')
  // No postmaster.pid: the cluster is not running (it never started, or it was stopped already).
  if (await stat(path.join(pgdata, 'postmaster.pid')).then(() => true, () => false)) {
    const { pg_ctl: pgCtl } = await import(`@embedded-postgres/${process.platform}-${process.arch}`) as { pg_ctl: string }
    const owner = userInfo().uid === 0 ? await postgresUser() : undefined
    await run(pgCtl, ['stop', '-D', pgdata, '-m', 'fast', '-w', '-t', '30'], { ...owner, env: { ...process.env, LC_ALL: 'C' } })
  }
  await rm(dataDir, { recursive: true, force: true })
}

async function postgresUser (): Promise<{ uid: number, gid: number }> {
  const id = async (flag: string) => Number((await run('id', [flag, 'postgres'])).stdout.trim())
  return { uid: await id('-u'), gid: await id('-g') }
}
