// Readiness across a PostgreSQL restart, and graceful shutdown of the real `hub` command.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm, stat, chmod } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import t from 'tap'
import { startEmbeddedPostgres } from '../../src/db/embedded-postgres.ts'
import { migrate } from '../../src/db/migrator.ts'
import { seed } from '../../src/db/seed.ts'
import { buildHub } from '../../src/hub/build-hub.ts'
import { loadConfig } from '../../src/hub/config.ts'

async function tempDir (t: { teardown (fn: () => unknown): void }) {
  // Under /tmp, not the repository: as root the cluster runs as `postgres`, which must enter it.
  const dir = await mkdtemp(path.join(tmpdir(), 'hub-lifecycle-'))
  await chmod(dir, 0o755)
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return dir
}

t.test('/readyz is 503 while PostgreSQL is down and 200 again after it restarts, without a hub restart', async t => {
  const dataDir = await tempDir(t)
  let pg = await startEmbeddedPostgres({ dataDir })
  t.teardown(() => pg.stop())
  await migrate(pg.url)
  const config = { ...loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent' }), databaseUrl: pg.url, dbConnectTimeoutMs: 1_000 }
  const app = await buildHub({ config })
  t.teardown(() => app.close())
  await seed(app.db.prisma, { env: 'test', adminPassword: 'admin-password' })
  const base = await app.listen({ host: '127.0.0.1', port: 0 })
  const get = async (p: string, token?: string) => await fetch(base + p, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(10_000) })
  const login = async () => await fetch(base + '/api/auth/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: 'admin-password' }), signal: AbortSignal.timeout(10_000) })

  t.equal((await get('/readyz')).status, 200)
  const token = (await (await login()).json() as { token: string }).token

  await pg.stop()
  const down = await get('/readyz')
  t.equal(down.status, 503)
  t.same(await down.json(), { status: 'not ready', checks: { database: false, queue: false } })
  const me = await get('/api/me', token)
  t.equal(me.status, 503, 'requests needing the database answer 503, not 500')
  t.equal((await me.json() as { error: { code: string } }).error.code, 'NOT_READY')
  t.equal((await get('/healthz')).status, 200, 'liveness does not depend on the database')

  pg = await startEmbeddedPostgres({ dataDir, port: pg.port })
  // pg_ctl -w returned only once the server accepts connections, and the pool dropped the
  // connections PostgreSQL closed, so the very next check must dial afresh and succeed.
  t.equal((await get('/readyz')).status, 200, 'ready again')
  t.equal((await get('/api/me', token)).status, 200, 'the old session works: nothing was lost')
  t.equal((await login()).status, 201)
})

t.test('SIGTERM stops the hub command gracefully: the pool closes and the embedded database stops', async t => {
  const dataDir = await tempDir(t)
  const child = spawn(process.execPath, ['src/hub/main.ts'], {
    cwd: path.resolve(import.meta.dirname, '../..'),
    env: { ...process.env, DATABASE_URL: '', HUB_DATA_DIR: dataDir, HUB_PORT: '0', NODE_ENV: 'development', LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  let output = ''
  child.stderr.on('data', chunk => { output += chunk })
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`hub not ready within 30 s:\n${output}`)), 30_000)
    child.stdout.on('data', chunk => {
      output += chunk
      const match = /hub ready at (http:\/\/\S+)/.exec(output)
      if (match?.[1] !== undefined) {
        clearTimeout(timer)
        resolve(match[1])
      }
    })
  })
  t.match(output, /admin password \(generated, shown once\): \S+/, 'development prints the generated admin password')
  t.equal((await fetch(url + '/readyz', { signal: AbortSignal.timeout(5_000) })).status, 200)
  const pidFile = path.join(dataDir, 'postgres', 'postmaster.pid')
  t.ok(await stat(pidFile).then(() => true, () => false), 'the embedded database runs')

  const started = Date.now()
  child.kill('SIGTERM')
  const [code] = await Promise.race([
    once(child, 'exit'),
    new Promise<never>((resolve, reject) => setTimeout(() => reject(new Error('no exit within 12 s')), 12_000))
  ])
  t.equal(code, 0, output.slice(-2000))
  t.ok(Date.now() - started < 10_000, 'within 10 s')
  t.match(output, /"msg":"hub stopped"/)
  t.match(output, /embedded PostgreSQL stopped/)
  t.notOk(await stat(pidFile).then(() => true, () => false), 'PostgreSQL has shut down')
})
