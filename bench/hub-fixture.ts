// A hub for the command benchmarks: embedded PostgreSQL in a temp folder, migrated, the `hub`
// command in a child process (its own event loop and core, as in production), and nodes with
// servers made through the API and SQL. The caller runs agents and load in this process or in
// load-generator processes (bench/lib/command-worker.ts). BENCH_HUB_PROF=<dir> runs the hub with
// --cpu-prof, writing its profile to that folder at exit.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises'
import { cpus, tmpdir, totalmem } from 'node:os'
import path from 'node:path'
import pg from 'pg'
import { startEmbeddedPostgres } from '../src/db/embedded-postgres.ts'
import { migrate } from '../src/db/migrator.ts'
import { ADMIN_PASSWORD, adminToken } from './lib/fixture.ts'

const ROOT = path.resolve(import.meta.dirname, '..')

export interface BenchNode { nodeId: string, agentToken: string, servers: string[] }

export interface Fixture {
  databaseUrl: string
  url: string
  token: string
  db: pg.Pool
  hubPid: number
  postmasterPid: number
  addNodes (count: number, serversEach: number): Promise<BenchNode[]>
  close (): Promise<void>
}

export const machine = () => `${cpus().length} × ${cpus()[0]?.model.trim() ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`

export async function startFixture (env: Record<string, string> = {}): Promise<Fixture> {
  const dir = await mkdtemp(path.join(tmpdir(), 'hub-bench-'))
  await chmod(dir, 0o755)
  const postgres = await startEmbeddedPostgres({ dataDir: dir })
  await migrate(postgres.url)
  const prof = process.env.BENCH_HUB_PROF
  const execArgv = prof === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${prof}`]
  const child = spawn(process.execPath, [...execArgv, 'src/hub/main.ts'], {
    cwd: ROOT,
    env: { ...process.env, DATABASE_URL: postgres.url, HUB_DATA_DIR: dir, HUB_PORT: '0', NODE_ENV: 'test', HUB_ADMIN_PASSWORD: ADMIN_PASSWORD, LOG_LEVEL: 'warn', HUB_AGENT_RATE: '100000', HUB_AGENT_BURST: '100000', ...env },
    stdio: ['ignore', 'pipe', 'inherit']
  })
  let out = ''
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('hub not ready within 30 s')), 30_000)
    child.stdout.on('data', chunk => {
      out += chunk
      const m = /hub ready at (\S+)/.exec(out)
      if (m?.[1] !== undefined) { clearTimeout(timer); resolve(m[1]) }
    })
  })
  const token = await adminToken(url)
  const db = new pg.Pool({ connectionString: postgres.url, max: 2 })
  const postmasterPid = Number((await readFile(path.join(dir, 'postgres', 'postmaster.pid'), 'utf8')).split('\n')[0])
  let n = 0
  return {
    databaseUrl: postgres.url,
    url,
    token,
    db,
    hubPid: child.pid as number,
    postmasterPid,
    async addNodes (count, serversEach) {
      const nodes: BenchNode[] = []
      for (let i = 0; i < count; i++) {
        const res = await fetch(url + '/api/nodes', { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: `bench-${n++}` }) })
        const body = await res.json() as { node: { id: string }, agentToken: string }
        const { rows } = await db.query<{ id: string }>(
          `INSERT INTO servers (name, node_id, alt_id, owner_id, port, updated_at)
           SELECT $1 || '-' || i, $1::uuid, (SELECT id FROM alts LIMIT 1), (SELECT id FROM users WHERE username = 'admin'), 20000 + i, now()
           FROM generate_series(1, $2) AS i RETURNING id`, [body.node.id, serversEach])
        nodes.push({ nodeId: body.node.id, agentToken: body.agentToken, servers: rows.map(r => r.id) })
      }
      return nodes
    },
    async close () {
      child.kill('SIGTERM')
      await once(child, 'exit')
      await db.end()
      await postgres.stop()
      await rm(dir, { recursive: true, force: true })
    }
  }
}

/** Sends `fn()` at `perSecond` for `seconds`, open loop (a slow answer does not delay the next send). */
export async function atRate (perSecond: number, seconds: number, fn: (i: number) => void): Promise<number> {
  const start = performance.now()
  let sent = 0
  const total = Math.round(perSecond * seconds)
  while (sent < total) {
    const due = Math.min(total, Math.floor((performance.now() - start) / 1000 * perSecond) + 1)
    while (sent < due) fn(sent++)
    await new Promise(resolve => setTimeout(resolve, 1))
  }
  return (performance.now() - start) / 1000
}

/** Waits until `done()` holds, checking every 20 ms, at most `ms`. */
export async function until (done: () => boolean, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!done() && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 20))
}
