// Backups of the embedded cluster, end to end through the real start path (startHub: embedded
// PostgreSQL with WAL archiving, the store, the archiver, the backups plugin): a backup taken
// while agents report statuses verifies by restore; a corrupted file fails verification naming
// it; retention prunes base backups and the WAL they needed; the metrics and GET /api/backups
// say so; `npm run db:backup` runs the same cycle from a shell; `npm run db:restore` builds a
// new data folder (and refuses --in-place while the hub runs), and --revoke-sessions ends every
// session; archiving failures reach /metrics and /readyz.
import { execFile } from 'node:child_process'
import { chmod, copyFile, cp, mkdir, mkdtemp, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import pg from 'pg'
import t from 'tap'
import { parseKeyring } from '../../src/db/backup/keys.ts'
import { openStore } from '../../src/db/backup/store.ts'
import { startThrowaway } from '../../src/db/backup/throwaway.ts'
import { verifyBackup } from '../../src/db/backup/verify.ts'
import { MIGRATIONS_DIR } from '../../src/db/migrator.ts'
import { loadConfig } from '../../src/hub/config.ts'
import { startHub } from '../../src/hub/start-hub.ts'
import { waitFor } from '../helpers/wait.ts'
import type { TestHub } from '../helpers/hub.ts'
import { addNode } from '../helpers/raw-agent.ts'
import { agent } from './panel/fixtures.ts'

// Three backups with verifications, a restore and a failure: minutes under a shared machine's load.
t.setTimeout(480_000)
const run = promisify(execFile)
const ROOT = path.resolve(import.meta.dirname, '../..')
const ADMIN_PASSWORD = 'admin-password-for-backups'

const dir = await mkdtemp(path.join(tmpdir(), 'hub-backups-'))
await chmod(dir, 0o755) // the `postgres` user enters it
t.teardown(() => rm(dir, { recursive: true, force: true }))
const env = {
  NODE_ENV: 'test',
  LOG_LEVEL: 'silent',
  HUB_DATA_DIR: path.join(dir, 'data'),
  HUB_PORT: '0',
  HUB_ADMIN_PASSWORD: ADMIN_PASSWORD,
  HUB_BACKUP_RETENTION: '1d', // two backups on one day: the older goes
  HUB_BACKUP_SCHEDULE: '0 3 1 1 *',
  HUB_PRUNE_CRON: '0 0 1 1 *'
}
const running = await startHub(loadConfig(env))
t.teardown(() => running.close())
const { app } = running

const request: TestHub['request'] = async (method, p, { token, body } = {}) => {
  const res = await fetch(running.url + p, {
    method,
    headers: { ...(token === undefined ? {} : { authorization: `Bearer ${token}` }), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000)
  })
  const text = await res.text()
  return { status: res.status, body: res.headers.get('content-type')?.includes('json') === true ? JSON.parse(text) : text, headers: res.headers }
}
const login = async () => (await request('POST', '/api/auth/login', { body: { username: 'admin', password: ADMIN_PASSWORD } })).body.token as string
const token = await login()
const hub = { app, url: running.url, databaseUrl: '', request, login: async () => await login(), adminToken: async () => token } satisfies TestHub

const backupRow = async (id: string) => (await request('GET', '/api/backups', { token })).body.items.find((b: { id: string }) => b.id === id)
const settled = async (id: string, since?: string) => await waitFor(`backup ${id} verified`, async () => {
  const row = await backupRow(id)
  return row?.status === 'FAILED' || (row?.verifiedAt != null && row.verifiedAt !== since) ? row : undefined
}, 180_000, 250)
async function scrape (): Promise<Map<string, number>> {
  const values = new Map<string, number>()
  for (const line of String((await request('GET', '/metrics')).body).split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const at = line.lastIndexOf(' ')
    values.set(line.slice(0, at), Number(line.slice(at + 1)))
  }
  return values
}

t.test('a backup taken while agents report statuses verifies by restore', async t => {
  const node = await addNode(hub, 'backup-node', 4)
  const ag = await agent(hub, node)
  t.teardown(() => ag.close())
  let reports = 0
  const ingest = { on: true }
  const load = (async () => {
    const statuses = ['STARTING', 'RUNNING', 'STOPPING', 'STOPPED']
    while (ingest.on) {
      await Promise.all(node.servers.map(async s => { await ag.status(s, statuses[reports % 4] as string) }))
      reports++
    }
  })()
  const started = await request('POST', '/api/backups', { token })
  t.equal(started.status, 202)
  t.match(started.body, { status: 'RUNNING', kind: 'BASE' })
  const again = await request('POST', '/api/backups', { token })
  t.equal(again.status, 409, 'one backup at a time')
  t.match(again.body.error.message, /is running/)
  const row = await settled(started.body.id)
  ingest.on = false
  await load
  t.ok(reports > 0, `${reports} rounds of status reports ran during the backup`)
  t.match(row, { status: 'SUCCEEDED', verifyOk: true, verifyDetail: /migrations match the manifest, read \d+ rows/ })
  t.ok(row.sizeBytes > 0 && row.stopLsn !== null && row.storeId !== null)

  const m = await scrape()
  t.equal(m.get('hub_backup_last_verify_ok'), 1)
  t.ok(Math.abs((m.get('hub_backup_last_success_timestamp_seconds') ?? 0) - Date.parse(row.finishedAt) / 1000) < 1, 'last success timestamp')
  t.equal(m.get('hub_backup_archive_failing'), 0)
  t.ok(m.has('hub_backup_archive_lag_seconds'))
  const ready = await request('GET', '/readyz')
  t.equal(ready.status, 200, 'still ready')
  t.match(ready.body.warnings, [/no HUB_BACKUP_KEY/], 'says loudly that backups are not encrypted')
})

t.test('a backup another process runs (npm run db:backup, a second hub) makes POST /api/backups 409: one RUNNING row per cluster', async t => {
  const other = await app.db.prisma.backup.create({ data: {} })
  t.teardown(() => app.db.prisma.backup.delete({ where: { id: other.id } }))
  const refused = await request('POST', '/api/backups', { token })
  t.equal(refused.status, 409)
  t.match(refused.body.error.message, /a backup is running/)
  t.equal(await app.db.prisma.backup.count({ where: { status: 'RUNNING' } }), 1, 'no second RUNNING row')
})

t.test('a corrupted file in a backup fails verification, naming the file', async t => {
  const [row] = (await request('GET', '/api/backups', { token })).body.items
  const files = path.join(dir, 'data', 'backups', 'base', row.storeId, 'files')
  // The biggest sealed file: a table or index of the hub's database.
  const all = (await readdir(files, { recursive: true, withFileTypes: true })).filter(e => e.isFile())
  const sized = await Promise.all(all.map(async e => ({ file: path.join(e.parentPath, e.name), size: (await stat(path.join(e.parentPath, e.name))).size })))
  const victim = sized.toSorted((a, b) => b.size - a.size)[0] as { file: string, size: number }
  const fh = await open(victim.file, 'r+')
  const byte = Buffer.alloc(1)
  await fh.read(byte, 0, 1, Math.floor(victim.size / 2))
  await fh.write(Buffer.from([byte[0] as number ^ 0xff]), 0, 1, Math.floor(victim.size / 2))
  await fh.close()
  const res = await request('POST', `/api/backups/${row.id}/verify`, { token })
  t.equal(res.status, 202)
  const after = await settled(row.id, row.verifiedAt)
  t.equal(after.verifyOk, false)
  t.ok(after.verifyDetail.includes(path.relative(files, victim.file).replace(/\.seg$/, '')), `names the file: ${after.verifyDetail}`)
  t.equal((await scrape()).get('hub_backup_last_verify_ok'), 0)
  t.equal((await request('POST', '/api/backups/00000000-0000-4000-8000-000000000000/verify', { token })).status, 404)
})

t.test('retention prunes the older backup and the WAL only it needed', async t => {
  const [old] = (await request('GET', '/api/backups', { token })).body.items
  const walBefore = await readdir(path.join(dir, 'data', 'backups', 'wal'))
  const started = await request('POST', '/api/backups', { token })
  t.equal(started.status, 202)
  const row = await settled(started.body.id)
  t.match(row, { status: 'SUCCEEDED', verifyOk: true })
  const oldNow = await backupRow(old.id)
  t.not(oldNow.prunedAt, null, 'the older backup is marked pruned')
  t.same(await readdir(path.join(dir, 'data', 'backups', 'base')), [row.storeId], 'only the newest base backup is left')
  const walAfter = await readdir(path.join(dir, 'data', 'backups', 'wal'))
  const oldest = walBefore.filter(n => /^[0-9A-F]{24}\.seg$/.test(n)).sort()[0]
  t.ok(oldest !== undefined && !walAfter.includes(oldest), `the WAL before the kept backup is gone (${oldest})`)
  t.equal((await request('POST', `/api/backups/${old.id}/verify`, { token })).status, 409, 'a pruned backup cannot be verified')
})

t.test('npm run db:backup runs a cycle against the running hub\'s cluster and prints the verified row', async t => {
  const res = await run(process.execPath, ['src/db/cli/backup.ts'], { cwd: ROOT, env: { ...process.env, ...env }, timeout: 300_000 })
    .then(r => ({ code: 0, stdout: r.stdout, stderr: r.stderr }), (e: { code: number, stdout: string, stderr: string }) => e)
  t.equal(res.code, 0, res.stderr)
  const row = JSON.parse(res.stdout)
  t.match(row, { status: 'SUCCEEDED', verifyOk: true })
  t.match(await backupRow(row.id), { status: 'SUCCEEDED', verifyOk: true }, 'recorded in the same table the API reads')
})

t.test('verification compares _prisma_migrations with the manifest; a newer repository migration is reported, not failed', async t => {
  const [row] = (await request('GET', '/api/backups', { token })).body.items
  const migrations = path.join(dir, 'migrations')
  await cp(MIGRATIONS_DIR, migrations, { recursive: true })
  await mkdir(path.join(migrations, '20991231000000_future'))
  await writeFile(path.join(migrations, '20991231000000_future', 'migration.sql'), 'SELECT 1;\n')
  const store = openStore({ dir: path.join(dir, 'data', 'backups'), keys: parseKeyring() })
  const result = await verifyBackup({ store, backupId: row.storeId, workDir: path.join(dir, 'data'), migrationsDir: migrations })
  t.equal(result.ok, true, result.detail)
  t.match(result.detail, /migrations match the manifest, .*not a failure: the backup's migrations differ from this repository's prisma\/migrations \(20991231000000_future not applied\)/)
  t.notMatch(result.detail, /data checksums are/, 'checksums are on in the embedded cluster')
  t.same(await readdir(path.join(dir, 'data')).then(names => names.filter(n => n.startsWith('verify-'))), [], 'the temporary folder is gone')
})

t.test('db:restore builds a new data folder, refuses --in-place while the hub runs, and --revoke-sessions ends every session', async t => {
  const cli = async (args: string[]) => await run(process.execPath, ['src/db/cli/restore.ts', ...args], { cwd: ROOT, env: { ...process.env, ...env }, timeout: 300_000 })
    .then(r => ({ code: 0, stdout: r.stdout, stderr: r.stderr }), (e: { code: number, stdout: string, stderr: string }) => e)
  const inPlace = await cli(['--to', 'latest', '--in-place'])
  t.equal(inPlace.code, 2)
  t.match(inPlace.stderr, /is running .*stop the hub first/)
  const bad = await cli(['--to', 'yesterday'])
  t.equal(bad.code, 2)
  t.match(bad.stderr, /neither "latest", an ISO time .* nor a backup id/)
  const noZone = await cli(['--to', '2026-12-03T14:05:00'])
  t.equal(noZone.code, 2)
  t.match(noZone.stderr, /has no time zone: end it with Z \(UTC\) or ±hh:mm/)

  const target = path.join(dir, 'restored')
  const res = await cli(['--to', 'latest', '--target', target, '--revoke-sessions'])
  t.equal(res.code, 0, res.stderr)
  t.match(res.stdout, /restored base backup \S+ .* into .*restored\/postgres/)
  t.match(res.stdout, /recovered to: .*then promoted/)
  t.match(res.stdout, /revoked [1-9]\d* sessions/)
  t.match(res.stdout, new RegExp(`HUB_DATA_DIR=${target} HUB_BACKUP_DIR=${path.join(dir, 'data', 'backups')} npm start`))
  t.ok((await readdir(path.join(dir, 'data', 'backups', 'wal'))).some(n => /^[0-9A-F]{8}\.history\.seg$/.test(n)), 'the new timeline\'s history file is sealed into the store')
  t.same((await readdir(target)).filter(n => !n.startsWith('postgres')).sort(), ['agent-keys.json', 'hub-role-password'].sort(), 'the secrets saved with the backup are there')
  const cluster = await startThrowaway({ pgdata: path.join(target, 'postgres'), password: await readFile(path.join(target, 'postgres-password'), 'utf8') })
  t.teardown(() => cluster.stop())
  await cluster.promoted(60_000)
  const client = await cluster.connect('hub')
  t.teardown(() => client.end())
  const { rows } = await client.query('SELECT count(*)::int AS live FROM sessions WHERE revoked_at IS NULL')
  t.equal(rows[0].live, 0, 'no session is left active')
})

t.test('a hub started on the restored folder takes backups (its new timeline\'s history file is in the store)', async t => {
  const target = path.join(dir, 'restored')
  const restoredEnv = { ...env, HUB_DATA_DIR: target, HUB_BACKUP_DIR: path.join(dir, 'data', 'backups'), HUB_BACKUP_RETENTION: '7d' }
  const restored = await startHub(loadConfig(restoredEnv))
  t.teardown(() => restored.close())
  const call = async (method: string, p: string, auth?: string) => {
    const res = await fetch(restored.url + p, { method, headers: auth === undefined ? {} : { authorization: `Bearer ${auth}` }, signal: AbortSignal.timeout(10_000) })
    return { status: res.status, body: await res.json() as any }
  }
  const login = await fetch(restored.url + '/api/auth/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: ADMIN_PASSWORD }), signal: AbortSignal.timeout(10_000) })
  const auth = (await login.json() as { token: string }).token
  const started = await call('POST', '/api/backups', auth)
  t.equal(started.status, 202)
  const row = await waitFor('the restored hub\'s backup settles', async () => {
    const r = (await call('GET', '/api/backups', auth)).body.items.find((b: { id: string }) => b.id === started.body.id)
    return r?.status === 'FAILED' || r?.verifiedAt != null ? r : undefined
  }, 240_000, 250)
  t.match(row, { status: 'SUCCEEDED', verifyOk: true })
})

t.test('a failed --in-place restore leaves HUB_DATA_DIR as it was', async t => {
  const target = path.join(dir, 'restored')
  const store = path.join(dir, 'data', 'backups')
  const [newest] = (await readdir(path.join(store, 'base'))).sort().reverse()
  const files = path.join(store, 'base', newest as string, 'files')
  const victim = path.join(files, 'global', 'pg_control.seg')
  await copyFile(victim, `${victim}.good`)
  t.teardown(() => rename(`${victim}.good`, victim))
  const fh = await open(victim, 'r+')
  await fh.write(Buffer.from([0xff, 0xff, 0xff, 0xff]), 0, 4, 100)
  await fh.close()
  const before = (await readdir(target)).sort()
  const res = await run(process.execPath, ['src/db/cli/restore.ts', '--to', newest as string, '--in-place'], { cwd: ROOT, env: { ...process.env, ...env, HUB_DATA_DIR: target, HUB_BACKUP_DIR: store }, timeout: 300_000 })
    .then(r => ({ code: 0, stdout: r.stdout, stderr: r.stderr }), (e: { code: number, stdout: string, stderr: string }) => e)
  t.equal(res.code, 1, res.stdout)
  t.match(res.stderr, /pg_control\.seg/, 'names the damaged file')
  t.same((await readdir(target)).sort(), before, 'nothing renamed, nothing left behind')
  t.ok((await stat(path.join(target, 'postgres', 'PG_VERSION'))).isFile(), 'the cluster is still in place')

  // The same restore with the file intact: staged, then swapped in.
  await rename(`${victim}.good`, victim)
  await copyFile(victim, `${victim}.good`)
  const ok = await run(process.execPath, ['src/db/cli/restore.ts', '--to', newest as string, '--in-place'], { cwd: ROOT, env: { ...process.env, ...env, HUB_DATA_DIR: target, HUB_BACKUP_DIR: store }, timeout: 300_000 })
    .then(r => ({ code: 0, stdout: r.stdout, stderr: r.stderr }), (e: { code: number, stdout: string, stderr: string }) => e)
  t.equal(ok.code, 0, ok.stderr)
  t.match(ok.stdout, /kept as \*\.before-restore-\S+ in /)
  const after = await readdir(target)
  t.ok(after.some(n => /^postgres\.before-restore-/.test(n)) && after.includes('postgres'), 'the old cluster aside, the restored one in place')
  t.notOk(after.some(n => n.includes('restoring')), 'no staging folder left')
  t.ok((await stat(path.join(target, 'postgres', 'PG_VERSION'))).isFile())
})

t.test('archiving failures are reported in /metrics and /readyz (still ready), and clear when it works again', async t => {
  const data = path.join(dir, 'data')
  const port = Number((await readFile(path.join(data, 'postgres', 'postmaster.pid'), 'utf8')).split('\n')[3])
  const su = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', password: await readFile(path.join(data, 'postgres-password'), 'utf8'), database: 'hub' })
  await su.connect()
  t.teardown(() => su.end())
  // The hub cannot seal segments into wal/ any more: a file stands where the folder was.
  const wal = path.join(data, 'backups', 'wal')
  await rename(wal, `${wal}.away`)
  await writeFile(wal, 'not a folder')
  await su.query("SELECT pg_logical_emit_message(false, 'test', 'x'); SELECT pg_switch_wal()")
  await waitFor('archive failing in /metrics', async () => (await scrape()).get('hub_backup_archive_failing') === 1, 30_000, 200)
  const ready = await request('GET', '/readyz')
  t.equal(ready.status, 200)
  t.match(ready.body.warnings, [/WAL archiving is failing .*pg_wal grows until the disk is full/, /no HUB_BACKUP_KEY/])
  t.match((await request('GET', '/api/backups', { token })).body.status.archive, { failing: true, lastError: /\S/ })

  await rm(wal)
  await rename(`${wal}.away`, wal)
  await waitFor('archiving recovered', async () => (await scrape()).get('hub_backup_archive_failing') === 0, 30_000, 200)
  t.notMatch((await request('GET', '/readyz')).body.warnings, [/WAL archiving is failing/])
})
