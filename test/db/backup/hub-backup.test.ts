// startHub with the embedded cluster archives WAL by default: the settings are on, a switched
// segment reaches HUB_BACKUP_DIR/wal sealed (and HUB_BACKUP_COPY_DIR), and a missing key is warned about.
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { Writable } from 'node:stream'
import pg from 'pg'
import pino from 'pino'
import t from 'tap'
import { backupDir, hubSecrets, walSpool } from '../../../src/db/backup/hub-backup.ts'
import { directoryDestination } from '../../../src/db/backup/store.ts'
import { loadConfig } from '../../../src/hub/config.ts'
import { startHub } from '../../../src/hub/start-hub.ts'
import { waitFor } from '../../helpers/wait.ts'

t.test('paths and secrets', async t => {
  const config = loadConfig({ HUB_DATA_DIR: '/srv/hub' })
  t.equal(backupDir(config), '/srv/hub/backups')
  t.equal(backupDir({ ...config, backupDir: '/b' }), '/b')
  t.equal(walSpool(config), '/srv/hub/wal-spool')
  t.same(hubSecrets(config).map(s => s.name), ['postgres-password', 'hub-role-password', 'agent-keys.json'])
  t.same(hubSecrets({ ...config, agentKeys: '{}' }).map(s => s.name), ['postgres-password', 'hub-role-password'])
})

t.test('the hub archives WAL of its embedded cluster', async t => {
  const dir = await mkdtemp(path.join(tmpdir(), 'hub-backup-'))
  await chmod(dir, 0o755)
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const copyDir = path.join(dir, 'elsewhere')
  const config = loadConfig({ NODE_ENV: 'test', HUB_PORT: '0', HUB_DATA_DIR: dir, HUB_BACKUP_COPY_DIR: copyDir, HUB_ADMIN_PASSWORD: 'admin-password' })
  const lines: Array<{ level: number, msg: string }> = []
  const sink = new Writable({ write (chunk: Buffer, _enc, done) { for (const l of String(chunk).split('\n')) if (l !== '') lines.push(JSON.parse(l)); done() } })
  const hub = await startHub(config, pino({ level: 'warn' }, sink))
  let closed = false
  t.teardown(async () => { if (!closed) await hub.close() })
  t.ok(lines.some(l => l.level === 40 && /HUB_BACKUP_KEY is not set/.test(l.msg)), 'a missing key is warned about')

  const password = await readFile(path.join(dir, 'postgres-password'), 'utf8')
  const port = (await readFile(path.join(dir, 'postgres', 'postmaster.pid'), 'utf8')).split('\n')[3]
  const db = new pg.Client({ host: '127.0.0.1', port: Number(port), user: 'postgres', password, database: 'postgres' })
  await db.connect()
  t.teardown(() => db.end().catch(() => {}))
  t.equal((await db.query<{ archive_mode: string }>('SHOW archive_mode')).rows[0]?.archive_mode, 'on')
  const { rows } = await db.query<{ name: string }>('SELECT pg_walfile_name(pg_current_wal_lsn()) AS name')
  await db.query('SELECT pg_switch_wal()')
  const name = rows[0]?.name as string
  const copy = directoryDestination(copyDir)
  await waitFor(`${name} in the copy`, async () => (await copy.list('wal/')).includes(`wal/${name}.seg`), 20_000, 100)
  await db.end()
  await hub.close()
  closed = true
})
