// Base backup and point-in-time restore on a real cluster: write A, back up, write A2, note T,
// write B; a restore to T has A and A2 but not B, to the backup has A only, to the latest has
// all. The backup is encrypted: unreadable without the key. A file that does not match the
// manifest is named.
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chmod, copyFile, link, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import pg from 'pg'
import t from 'tap'
import { archiveSettings, walArchiver } from '../../../src/db/backup/archiver.ts'
import { takeBaseBackup } from '../../../src/db/backup/base-backup.ts'
import { NO_KEYS, parseKeyring } from '../../../src/db/backup/keys.ts'
import { restoreDataDir, restoreSecrets } from '../../../src/db/backup/restore.ts'
import { openStore } from '../../../src/db/backup/store.ts'
import { binaries, postgresEnvironment, runAs, startEmbeddedPostgres } from '../../../src/db/embedded-postgres.ts'
import { waitFor } from '../../helpers/wait.ts'

const run = promisify(execFile)
const log = { info () {}, warn () {}, error () {} }

/** Starts a throwaway postgres on a restored folder, waits for it to promote, returns the rows of `items` and stops it. */
async function itemsIn (dataDir: string, password: string, opts: { settings?: string[], then?: (client: pg.Client) => Promise<void> } = {}): Promise<string[]> {
  const bin = await binaries()
  const owner = await runAs()
  const port = 20_000 + Math.floor(Math.random() * 20_000)
  const pgctl = async (args: string[]) => await run(bin.pg_ctl, args, { ...owner, env: postgresEnvironment() })
  await pgctl(['start', '-D', dataDir, '-w', '-t', '60', '-l', path.join(dataDir, 'server.log'), '-o', `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''${(opts.settings ?? []).map(s => ` -c '${s}'`).join('')}`]).catch(async (err: Error) => {
    throw new Error(`${err.message}\n${await readFile(path.join(dataDir, 'server.log'), 'utf8').catch(() => '')}`)
  })
  try {
    const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', password, database: 'hub', connectionTimeoutMillis: 10_000 })
    await client.connect()
    try {
      await waitFor('promotion', async () => !(await client.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r')).rows[0]?.r, 60_000, 100)
      const items = (await client.query<{ v: string }>('SELECT v FROM items ORDER BY v')).rows.map(r => r.v)
      await opts.then?.(client)
      return items
    } finally {
      await client.end()
    }
  } finally {
    await pgctl(['stop', '-D', dataDir, '-m', 'fast', '-w', '-t', '30'])
  }
}

t.test('base backup, then restore to a time, to the backup, and to the latest', async t => {
  const dir = await mkdtemp(path.join(tmpdir(), 'hub-restore-'))
  await chmod(dir, 0o755)
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const spool = path.join(dir, 'data', 'wal-spool')
  const cluster = await startEmbeddedPostgres({ dataDir: path.join(dir, 'data'), archive: { spool, timeoutS: 60 } })
  t.teardown(() => cluster.stop())
  const keys = parseKeyring(randomBytes(32).toString('base64'))
  const store = openStore({ dir: path.join(dir, 'backups'), keys })
  const archiver = walArchiver({ spool, store, log, pollMs: 100 })
  archiver.start()
  t.teardown(() => archiver.stop())
  const db = await cluster.superuser()
  t.teardown(() => db.end())
  await db.query("CREATE TABLE items (v text); INSERT INTO items VALUES ('A')")

  const passwordFile = path.join(dir, 'data', 'postgres-password')
  const manifest = await takeBaseBackup({
    superuser: async () => await cluster.superuser(),
    pgdata: cluster.pgdata,
    store,
    secrets: [{ name: 'postgres-password', file: passwordFile }, { name: 'absent', file: path.join(dir, 'nope') }],
    log,
    walTimeoutMs: 60_000
  })
  t.equal(manifest.encrypted, true)
  t.equal(manifest.keyId, keys.current?.id)
  t.same(manifest.secrets, ['postgres-password'], 'a missing secret file is skipped')
  t.ok(manifest.files.some(f => f.path === 'backup_label'), 'backup_label from pg_backup_stop is in the backup')
  t.ok(manifest.files.some(f => f.path === 'global/pg_control'))
  t.notOk(manifest.files.some(f => f.path.startsWith('pg_wal/') || f.path === 'postmaster.pid' || f.path === 'server.log'), 'excluded files are left out')
  t.ok(manifest.directories.includes('pg_wal') && manifest.directories.includes('pg_stat_tmp'))
  t.ok(manifest.files.every(f => /^[0-9a-f]{64}$/.test(f.sha256)))
  t.match(manifest.startWal, /^[0-9A-F]{24}$/)
  t.ok((await store.listWal()).includes(manifest.stopWal), 'the stop segment was archived before the backup was declared finished')
  t.same((await store.listBases()).map(m => m.id), [manifest.id])

  // Without WAL reaching its store a base backup is refused, and its files are removed.
  const unarchived = openStore({ dir: path.join(dir, 'unarchived'), keys })
  await t.rejects(takeBaseBackup({ superuser: async () => await cluster.superuser(), pgdata: cluster.pgdata, store: unarchived, secrets: [], walTimeoutMs: 500 }),
    /did not reach the backup store .* is WAL archiving on/)
  t.same(await readdir(path.join(unarchived.dir, 'base')), [], 'the unfinished backup is removed')

  await db.query("INSERT INTO items VALUES ('A2')")
  // T has millisecond precision, commit times microseconds: let A2's commit fall in an earlier millisecond.
  await new Promise(resolve => setTimeout(resolve, 5))
  const at = (await db.query<{ now: Date }>('SELECT clock_timestamp() AS now')).rows[0]?.now as Date
  await new Promise(resolve => setTimeout(resolve, 20))
  await db.query("INSERT INTO items VALUES ('B')")
  const { rows } = await db.query<{ name: string }>('SELECT pg_walfile_name(pg_current_wal_lsn()) AS name')
  await db.query('SELECT pg_switch_wal()')
  await waitFor('the last segment archived', async () => (await store.listWal()).includes(rows[0]?.name as string), 20_000, 100)

  const password = await readFile(passwordFile, 'utf8')
  const owner = await runAs()
  const toTime = await restoreDataDir({ store, target: path.join(dir, 'at t'), to: { kind: 'time', at }, owner })
  t.equal(toTime.manifest.id, manifest.id)
  t.match(toTime.recovery, /up to .* then promoted/)
  t.ok((await stat(path.join(dir, 'at t', 'recovery.signal'))).isFile())
  t.same(await itemsIn(path.join(dir, 'at t'), password), ['A', 'A2'], 'to T: A present, B absent')

  await restoreDataDir({ store, target: path.join(dir, 'at-backup'), to: { kind: 'immediate', id: manifest.id }, owner })
  t.same(await itemsIn(path.join(dir, 'at-backup'), password), ['A'], 'to the backup: as it was then')

  // The restored cluster promotes to timeline 2 and archives into the same store (as a hub
  // started on it would): a later restore from the same base backup follows the history file.
  await restoreDataDir({ store, target: path.join(dir, 'latest'), to: { kind: 'latest' }, owner })
  const written = await itemsIn(path.join(dir, 'latest'), password, {
    settings: archiveSettings(spool, 60),
    async then (client) {
      await client.query("INSERT INTO items VALUES ('C')")
      const { rows } = await client.query<{ name: string }>('SELECT pg_walfile_name(pg_current_wal_lsn()) AS name')
      await client.query('SELECT pg_switch_wal()')
      const name = rows[0]?.name as string
      t.match(name, /^00000002/, 'the restored cluster is on timeline 2')
      await waitFor('timeline 2 archived', async () => (await store.listWal()).includes(name) && (await store.listWal()).includes('00000002.history'), 20_000, 100)
    }
  })
  t.same(written, ['A', 'A2', 'B'], 'latest: every archived write')
  await restoreDataDir({ store, target: path.join(dir, 'latest2'), to: { kind: 'latest' }, owner })
  t.same(await itemsIn(path.join(dir, 'latest2'), password), ['A', 'A2', 'B', 'C'], 'latest again: timeline 2 followed, C present')

  const secretsDir = path.join(dir, 'secrets')
  t.same(await restoreSecrets(store, manifest, secretsDir), ['postgres-password'])
  t.equal(await readFile(path.join(secretsDir, 'postgres-password'), 'utf8'), password)

  // Without the key the backup cannot be read at all.
  const keyless = openStore({ dir: store.dir, keys: NO_KEYS })
  await t.rejects(restoreDataDir({ store: keyless, target: path.join(dir, 'nokey'), to: { kind: 'latest' } }), { name: 'BackupFileError', message: /no HUB_BACKUP_KEY is set/ })
  await t.rejects(restoreDataDir({ store: keyless, target: path.join(dir, 'nokey2'), to: { kind: 'backup', id: manifest.id } }), { name: 'BackupFileError' })
  await t.rejects(restoreDataDir({ store, target: path.join(dir, 'too-early'), to: { kind: 'time', at: new Date(Date.parse(manifest.startedAt) - 1000) } }), /no base backup finished before/)
  await t.rejects(restoreDataDir({ store, target: path.join(dir, 'latest'), to: { kind: 'latest' } }), /is not empty/)
  t.ok((await readdir(`${toTime.walDir}`)).some(n => n.endsWith('.history') || n.endsWith('.gz')), 'WAL staged next to the target')

  // A sealed file that opens but is not the one the manifest describes: named.
  const pgVersion = store.path(`base/${manifest.id}/files/PG_VERSION.seg`)
  const autoConf = store.path(`base/${manifest.id}/files/postgresql.auto.conf.seg`)
  await copyFile(pgVersion, autoConf)
  await t.rejects(restoreDataDir({ store, target: path.join(dir, 'bad'), to: { kind: 'latest' } }), { name: 'BackupFileError', file: autoConf, message: /postgresql\.auto\.conf: sha256 .* expected/ })
  // A tampered one: named too.
  const bytes = await readFile(pgVersion)
  bytes.writeUInt8(bytes.readUInt8(40) ^ 1, 40)
  await writeFile(pgVersion, bytes)
  await t.rejects(restoreDataDir({ store, target: path.join(dir, 'bad2'), to: { kind: 'latest' } }), { name: 'BackupFileError' })

  // A base backup reads the data folder through checked descriptors: a hard link (as a link to
  // a root-only file would be) is refused, not copied, and the backup fails.
  const linked = path.join(cluster.pgdata, 'linked')
  await link(path.join(cluster.pgdata, 'PG_VERSION'), linked)
  t.teardown(() => rm(linked, { force: true }))
  await t.rejects(takeBaseBackup({ superuser: async () => await cluster.superuser(), pgdata: cluster.pgdata, store, secrets: [], log, walTimeoutMs: 60_000 }),
    /(PG_VERSION|linked): refused \(2 hard links\)/)
})

t.test('a restore refuses a target or WAL folder that is a symbolic link', async t => {
  const dir = await mkdtemp(path.join(tmpdir(), 'hub-restore-link-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const store = openStore({ dir: path.join(dir, 'backups'), keys: NO_KEYS })
  await mkdir(path.join(dir, 'elsewhere'))
  await symlink(path.join(dir, 'elsewhere'), path.join(dir, 'target'))
  await t.rejects(restoreDataDir({ store, target: path.join(dir, 'target'), to: { kind: 'latest' } }), /target is a symbolic link/)
  await symlink(path.join(dir, 'elsewhere'), path.join(dir, 'other-wal'))
  await t.rejects(restoreDataDir({ store, target: path.join(dir, 'other'), to: { kind: 'latest' } }), /other-wal is a symbolic link/)
  await t.rejects(restoreDataDir({ store, target: path.join(dir, 'fine'), to: { kind: 'latest' } }), /no finished base backup/)
})
