/**
 * Starts a hub for the run when no --hub is given: `node src/hub/main.ts` in a child process (not
 * in-process: the hub must not share the simulator's event loop or CPU accounting), on a free port,
 * with embedded PostgreSQL in a fresh temporary folder and a generated admin password. The URL and
 * the database port are read from the hub's pino log; the database password from the file the
 * embedded cluster keeps next to it, which gives the correctness check direct SQL access.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { createInterface } from 'node:readline'

const REPO_ROOT = path.resolve(import.meta.dirname, '../..')
const START_TIMEOUT_MS = 90_000
const STOP_TIMEOUT_MS = 15_000

export interface HubProcess {
  url: string
  databaseUrl: string
  adminPassword: string
  /** The hub's pid, to tell its CPU apart from ours in the report. */
  pid: number
  stop (): Promise<void>
}

/** Reads a pino line; anything else (the hub's plain stdout messages) gives undefined. */
export function parseLogLine (line: string): { msg?: string, url?: string, port?: number } | undefined {
  if (!line.startsWith('{')) return undefined
  try {
    return JSON.parse(line)
  } catch {
    return undefined
  }
}

export async function startHubProcess (log: (line: string) => void): Promise<HubProcess> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'hub-simulate-'))
  // Embedded PostgreSQL runs as user postgres when we are root: it must be able to enter the folder.
  await chmod(dataDir, 0o755)
  const adminPassword = randomBytes(18).toString('base64url')
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HUB_PORT: '0',
    HUB_HOST: '127.0.0.1',
    HUB_DATA_DIR: dataDir,
    NODE_ENV: 'development',
    HUB_ADMIN_PASSWORD: adminPassword,
    LOG_LEVEL: 'info'
  }
  delete env.DATABASE_URL
  const child = spawn(process.execPath, ['src/hub/main.ts'], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] })
  const tail: string[] = []
  const keep = (line: string) => { tail.push(line); if (tail.length > 40) tail.shift() }
  createInterface({ input: child.stderr }).on('line', keep)

  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  const ready = new Promise<{ url: string, pgPort: number }>((resolve, reject) => {
    let pgPort: number | undefined
    createInterface({ input: child.stdout }).on('line', (line) => {
      keep(line)
      const entry = parseLogLine(line)
      if (entry?.msg === 'embedded PostgreSQL started' && typeof entry.port === 'number') pgPort = entry.port
      if (entry?.msg === 'hub listening' && typeof entry.url === 'string') {
        if (pgPort === undefined) reject(new Error('the hub listens but did not log its embedded PostgreSQL port'))
        else resolve({ url: entry.url, pgPort })
      }
    })
    exited.then((code) => reject(new Error(`the hub exited with ${code} before listening:\n${tail.join('\n')}`)), () => {})
    setTimeout(() => reject(new Error(`the hub did not listen within ${START_TIMEOUT_MS / 1000} s:\n${tail.join('\n')}`)), START_TIMEOUT_MS).unref()
  })

  let stopping: Promise<void> | undefined
  const stop = async () => {
    stopping ??= (async () => {
      await stopChild(child, exited)
      await rm(dataDir, { recursive: true, force: true })
    })()
    await stopping
  }

  try {
    const { url, pgPort } = await ready
    log(`started a hub at ${url} (pid ${child.pid ?? '?'}, data in ${dataDir})`)
    const pgPassword = (await readFile(path.join(dataDir, 'postgres-password'), 'utf8')).trim()
    const databaseUrl = `postgresql://postgres:${encodeURIComponent(pgPassword)}@127.0.0.1:${pgPort}/hub`
    return { url, databaseUrl, adminPassword, pid: child.pid ?? 0, stop }
  } catch (err) {
    await stop()
    throw err
  }
}

/** SIGTERM (the hub drains and stops its database), SIGKILL if that takes too long. */
async function stopChild (child: ChildProcess, exited: Promise<number | null>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  child.kill('SIGTERM')
  let timer: NodeJS.Timeout | undefined
  const timedOut = new Promise<'timeout'>((resolve) => { timer = setTimeout(() => resolve('timeout'), STOP_TIMEOUT_MS) })
  const result = await Promise.race([exited, timedOut])
  clearTimeout(timer)
  if (result === 'timeout') {
    child.kill('SIGKILL')
    await exited
  }
}
