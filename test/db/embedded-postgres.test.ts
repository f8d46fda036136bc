// The embedded cluster's hardening: the postmaster holds none of the hub's secrets, an unreadable
// cluster is never taken for a missing one (and wiped), and the hub connects as a role that owns
// its database and nothing more, also after an upgrade from a data folder whose hub used the superuser.
import { chmod, mkdir, mkdtemp, readFile, rm, stat, symlink, unlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import pg from 'pg'
import { PgBoss } from 'pg-boss'
import t from 'tap'
import { startEmbeddedPostgres } from '../../src/db/embedded-postgres.ts'
import { migrate } from '../../src/db/migrator.ts'
import { loadConfig } from '../../src/hub/config.ts'
import { startHub } from '../../src/hub/start-hub.ts'

async function tempDir (t: { teardown (fn: () => unknown): void }) {
  // Under /tmp: as root the cluster runs as `postgres`, which must enter every parent folder.
  const dir = await mkdtemp(path.join(tmpdir(), 'hub-embedded-'))
  await chmod(dir, 0o755)
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return dir
}

async function query<T extends pg.QueryResultRow> (url: string, text: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 })
  await client.connect()
  try {
    return (await client.query<T>(text)).rows
  } finally {
    await client.end()
  }
}

const SECRETS = {
  HUB_ADMIN_PASSWORD: 'admin-secret-4b1d',
  HUB_AGENT_KEYS: '{"keys":[{"kid":"secret-kid-77a1","privateJwk":{}}]}',
  HUB_METRICS_TOKEN: 'metrics-secret-0c9e2f1a'
}

t.test('the postmaster gets a minimal environment, without the hub secrets', async t => {
  const dir = await tempDir(t)
  const saved = Object.fromEntries(Object.keys(SECRETS).map(k => [k, process.env[k]]))
  Object.assign(process.env, SECRETS)
  t.teardown(() => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) Reflect.deleteProperty(process.env, k)
      else process.env[k] = v
    }
  })
  const cluster = await startEmbeddedPostgres({ dataDir: dir })
  t.teardown(() => cluster.stop())
  const pid = Number((await readFile(path.join(dir, 'postgres', 'postmaster.pid'), 'utf8')).split('\n')[0])
  const environ = (await readFile(`/proc/${pid}/environ`, 'utf8')).split('\0').filter(e => e !== '')
  const names = environ.map(e => e.slice(0, e.indexOf('=')))
  for (const [name, value] of Object.entries(SECRETS)) {
    t.notOk(names.includes(name), `${name} is not in the postmaster's environment`)
    t.notOk(environ.some(e => e.includes(value)), `the value of ${name} is not either`)
  }
  t.notOk(names.some(n => n.startsWith('HUB_') || n === 'DATABASE_URL'), `no hub variable at all (got ${names.join(', ')})`)
})

t.test('only a missing or empty data folder is initialised: anything unreadable stops the start and keeps the files', async t => {
  const dir = await tempDir(t)
  const pgdata = path.join(dir, 'postgres')
  await mkdir(path.join(pgdata, 'base'), { recursive: true })
  const keep = path.join(pgdata, 'base', 'precious')
  await writeFile(keep, 'cluster data')
  const marker = path.join(pgdata, 'PG_VERSION')

  // stat fails with ELOOP, as it fails for root too (EACCES would not, tests run as root).
  await symlink('PG_VERSION', marker)
  await t.rejects(startEmbeddedPostgres({ dataDir: dir }), /cannot read .*PG_VERSION \(ELOOP\): refusing to initialise/)
  t.ok(await stat(keep).then(() => true, () => false), 'nothing was wiped after ELOOP')

  await unlink(marker)
  await mkdir(marker)
  await t.rejects(startEmbeddedPostgres({ dataDir: dir }), /PG_VERSION is not a file/)
  t.ok(await stat(keep).then(() => true, () => false), 'nothing was wiped when PG_VERSION is a folder')

  await rm(marker, { recursive: true })
  await t.rejects(startEmbeddedPostgres({ dataDir: dir }), /holds files but no PG_VERSION/)
  t.equal(await readFile(keep, 'utf8'), 'cluster data', 'nothing was wiped in a folder without PG_VERSION')

  // An empty folder is initialised.
  await rm(pgdata, { recursive: true })
  await mkdir(pgdata)
  const cluster = await startEmbeddedPostgres({ dataDir: dir })
  t.teardown(() => cluster.stop())
  t.ok(await stat(marker).then(s => s.isFile()), 'an empty folder was initialised')
})

t.test('the hub pool connects as a non-superuser role that owns the hub database; superuser connections on request', async t => {
  const dir = await tempDir(t)
  const config = { ...loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', HUB_DATA_DIR: dir, HUB_PORT: '0', HUB_ADMIN_PASSWORD: 'admin-password' }) }
  const hub = await startHub(config)
  t.teardown(() => hub.close())
  const { rows } = await hub.app.db.pool.query<{ who: string, rolsuper: boolean, rolcreatedb: boolean, rolcreaterole: boolean, owner: string }>(
    `SELECT current_user AS who, r.rolsuper, r.rolcreatedb, r.rolcreaterole, pg_get_userbyid(d.datdba) AS owner
       FROM pg_roles r, pg_database d WHERE r.rolname = current_user AND d.datname = current_database()`)
  t.same(rows[0], { who: 'hub', rolsuper: false, rolcreatedb: false, rolcreaterole: false, owner: 'hub' })
  const login = await fetch(hub.url + '/api/auth/login', {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: 'admin-password' }), signal: AbortSignal.timeout(10_000)
  })
  t.equal(login.status, 201, 'the hub works as that role')
  const other = new URL((hub.app.db.pool as unknown as { options: { connectionString: string } }).options.connectionString)
  other.pathname = '/postgres'
  await t.rejects(query(other.toString(), 'SELECT 1'), /permission denied for database "postgres"/, 'the hub role cannot enter the maintenance database')
})

t.test('a data folder from a hub that used the superuser is upgraded on start', async t => {
  const dir = await tempDir(t)
  // Rebuild what the previous version left: database, tables, enums, functions and pg-boss's
  // schema all owned by `postgres`, and no hub role.
  let cluster = await startEmbeddedPostgres({ dataDir: dir })
  const admin = await cluster.superuser('postgres')
  await admin.query('ALTER DATABASE hub OWNER TO postgres')
  await admin.query('DROP ROLE hub')
  await admin.query('GRANT CONNECT ON DATABASE postgres TO PUBLIC')
  await admin.end()
  await rm(path.join(dir, 'hub-role-password'))
  const superUrl = new URL(cluster.adminUrl)
  superUrl.pathname = '/hub'
  await migrate(superUrl.toString())
  const boss = new PgBoss({ connectionString: superUrl.toString(), schema: 'pgboss', schedule: false, supervise: false })
  boss.on('error', () => {})
  await boss.start()
  await boss.stop({ graceful: false, close: true })
  const before = await query<{ n: number }>(superUrl.toString(),
    "SELECT count(*)::int AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname IN ('public', 'pgboss') AND pg_get_userbyid(c.relowner) = 'postgres'")
  t.ok((before[0]?.n ?? 0) > 10, 'the old install has its tables owned by the superuser')
  await cluster.stop()

  const hub = await startHub({ ...loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', HUB_DATA_DIR: dir, HUB_PORT: '0', HUB_ADMIN_PASSWORD: 'admin-password' }) })
  t.teardown(() => hub.close())
  const { rows } = await hub.app.db.pool.query<{ rolsuper: boolean }>('SELECT rolsuper FROM pg_roles WHERE rolname = current_user')
  t.equal(rows[0]?.rolsuper, false, 'the pool is not superuser after the upgrade')
  const left = await hub.app.db.pool.query<{ kind: string, name: string }>(`
    SELECT 'relation' AS kind, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname IN ('public', 'pgboss') AND c.relowner <> (SELECT oid FROM pg_roles WHERE rolname = 'hub')
    UNION ALL SELECT 'type', t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
     WHERE n.nspname IN ('public', 'pgboss') AND t.typowner <> (SELECT oid FROM pg_roles WHERE rolname = 'hub')
    UNION ALL SELECT 'function', p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
     WHERE n.nspname IN ('public', 'pgboss') AND p.proowner <> (SELECT oid FROM pg_roles WHERE rolname = 'hub')`)
  t.same(left.rows, [], 'the hub role owns every object of its database')
  const login = await fetch(hub.url + '/api/auth/login', {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: 'admin-password' }), signal: AbortSignal.timeout(10_000)
  })
  t.equal(login.status, 201, 'the upgraded hub writes sessions as its role')
  await hub.close()
  cluster = await startEmbeddedPostgres({ dataDir: dir })
  t.teardown(() => cluster.stop())
  t.match(cluster.url, /^postgresql:\/\/hub:/, 'a second start reuses the role and its password')
  t.same(await query(cluster.url, 'SELECT 1 AS ok'), [{ ok: 1 }])
})
