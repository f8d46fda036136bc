// WAL archiving against a real embedded cluster: archive_command (shell, as `postgres` when run as
// root) fills the spool, the hub's mover seals each segment into wal/ and empties the spool, and
// failures on either side show in status().
import { execFile } from 'node:child_process'
import { chmod, chown, link, mkdir, mkdtemp, readdir, readFile, rename, rm, stat, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { archiveSettings, walArchiver } from '../../../src/db/backup/archiver.ts'
import { NO_KEYS, parseKeyring } from '../../../src/db/backup/keys.ts'
import { openStore, walPath } from '../../../src/db/backup/store.ts'
import { startEmbeddedPostgres } from '../../../src/db/embedded-postgres.ts'
import { waitFor } from '../../helpers/wait.ts'
import { randomBytes } from 'node:crypto'

const log = { info () {}, warn () {}, error () {} }
const run = promisify(execFile)

t.test('archiveSettings', async t => {
  const settings = archiveSettings('/var/lib/hub/wal-spool', 60)
  t.same(settings.slice(0, 3), ['wal_level=replica', 'archive_mode=on', 'archive_timeout=60'])
  t.match(settings[3], /^archive_command=if test -f "\/var\/lib\/hub\/wal-spool\/%f"; then cmp -s %p/)
  t.notOk(settings.some(s => s.includes("'")), 'no single quote (pg_ctl -o quoting)')
  for (const bad of ["/tmp/it's", '/tmp/a"b', '/tmp/$HOME', '/tmp/`x`', '/tmp/a\\b', '/tmp/50%']) t.throws(() => archiveSettings(bad, 60), /may not hold/, bad)
  t.doesNotThrow(() => archiveSettings('/tmp/a b', 60), 'spaces are fine (double-quoted)')
  t.throws(() => archiveSettings('/tmp/x', 0), /archive_timeout/)
})

t.test('segments are archived through the spool into wal/, and failures are reported', async t => {
  const dir = await mkdtemp(path.join(tmpdir(), 'hub-archiver-'))
  await chmod(dir, 0o755)
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  // A space in the path: archive_command quotes it.
  const spool = path.join(dir, 'wal spool')
  const cluster = await startEmbeddedPostgres({ dataDir: dir, archive: { spool, timeoutS: 60 } })
  t.teardown(() => cluster.stop())
  const db = await cluster.superuser('postgres')
  t.teardown(() => db.end())
  const show = async (name: string) => (await db.query<Record<string, string>>(`SHOW ${name}`)).rows[0]?.[name]
  t.equal(await show('archive_mode'), 'on')
  t.equal(await show('wal_level'), 'replica')
  t.equal(await show('archive_timeout'), '1min')
  t.equal((await stat(spool)).mode & 0o777, 0o700)

  const store = openStore({ dir: path.join(dir, 'backups'), keys: parseKeyring(randomBytes(32).toString('base64')) })
  const archiver = walArchiver({ spool, store, log, pgdata: cluster.pgdata, superuser: async () => await cluster.superuser('postgres'), pollMs: 100, statsMs: 100 })
  archiver.start()
  t.teardown(() => archiver.stop())

  const switchWal = async () => {
    await db.query('CREATE TABLE IF NOT EXISTS t (v text); INSERT INTO t VALUES (md5(random()::text))')
    const { rows } = await db.query<{ name: string }>('SELECT pg_walfile_name(pg_current_wal_lsn()) AS name')
    await db.query('SELECT pg_switch_wal()')
    return rows[0]?.name as string
  }

  const first = await switchWal()
  await waitFor(`${first} in wal/`, async () => (await store.listWal()).includes(first), 15_000)
  await waitFor('an empty spool', async () => (await readdir(spool)).filter(n => !n.startsWith('.')).length === 0, 5_000)
  t.ok((await stat(store.path(walPath(first)))).size < 4_000_000, 'the 16 MB segment is compressed')
  let bytes = 0
  for await (const c of await store.open(walPath(first))) bytes += (c as Buffer).length
  t.equal(bytes, 16 * 1024 * 1024, 'and opens to a whole segment')
  await waitFor('status', async () => archiver.status().lastArchived === first)
  t.match(archiver.status(), { failing: false, spooled: 0 })

  // A segment of another cluster (another system identifier in its long page header) is refused.
  const foreign = Buffer.alloc(8192)
  foreign.writeUInt16LE(0xd118, 0)
  foreign.writeUInt16LE(0x0002, 2) // XLP_LONG_HEADER
  foreign.writeBigUInt64LE(42n, 24)
  const foreignFile = path.join(spool, '0000000100000000000000F0')
  // Written beside the spool and renamed in whole, as archive_command does (the mover watches).
  await writeFile(path.join(dir, 'foreign'), foreign)
  const spoolStat = await stat(spool)
  await chown(path.join(dir, 'foreign'), spoolStat.uid, spoolStat.gid)
  await rename(path.join(dir, 'foreign'), foreignFile)
  await t.rejects(archiver.flush(), /0000000100000000000000F0 belongs to another cluster \(system identifier 42, this cluster's is \d+\)/)
  t.notOk((await store.listWal()).includes('0000000100000000000000F0'))
  await rm(foreignFile)
  await archiver.flush()

  // The hub's side fails: the store cannot be written (wal/ is a file). The segment waits in the spool.
  await rm(path.join(store.dir, 'wal'), { recursive: true })
  await writeFile(path.join(store.dir, 'wal'), 'in the way')
  const second = await switchWal()
  await waitFor('failing', async () => archiver.status().failing, 15_000)
  t.ok(archiver.status().spooled >= 1, 'the segment waits in the spool')
  t.match(archiver.status().lastError, /ENOTDIR|EEXIST|not a directory/)
  await t.rejects(archiver.flush())
  await rm(path.join(store.dir, 'wal'))
  await archiver.flush()
  t.ok((await store.listWal()).includes(second), 'recovered: the waiting segment is archived')
  t.match(archiver.status(), { failing: false, spooled: 0 })

  // PostgreSQL's side fails: archive_command cannot write the spool. pg_stat_archiver says so, and
  // the lag grows with the .ready segments in pg_wal.
  await chmod(spool, 0o500)
  const third = await switchWal()
  await waitFor('archive_command failing', async () => archiver.status().failing, 20_000, 100)
  t.match(archiver.status().lastError, /archive_command failed \d+ times, last for/)
  await waitFor('some lag', async () => archiver.status().lagSeconds > 0, 5_000)
  await chmod(spool, 0o700)
  await waitFor(`${third} archived after the fix`, async () => (await store.listWal()).includes(third), 90_000, 200)
  await waitFor('not failing', async () => !archiver.status().failing, 10_000)

  // Without a key, segments are still sealed (checksummed), just not encrypted.
  const plain = openStore({ dir: path.join(dir, 'plain'), keys: NO_KEYS })
  await archiver.stop()
  const other = walArchiver({ spool, store: plain, log, pollMs: 100 })
  other.start()
  t.teardown(() => other.stop())
  const fourth = await switchWal()
  await waitFor(`${fourth} in the plain store`, async () => (await plain.listWal()).includes(fourth), 15_000)
})

t.test('the mover refuses what is not a segment archive_command wrote: links, FIFOs, foreign owners; and never overwrites an archived segment with other bytes', async t => {
  const dir = await mkdtemp(path.join(tmpdir(), 'hub-spool-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const spool = path.join(dir, 'spool')
  await mkdir(spool)
  const secret = path.join(dir, 'root-only')
  await writeFile(secret, 'the hub\'s secret', { mode: 0o600 })
  const seg = (n: number) => `0000000100000000000000${n.toString(16).toUpperCase().padStart(2, '0')}`
  await symlink(secret, path.join(spool, seg(0x42)))
  await link(secret, path.join(spool, seg(0x43)))
  await run('mkfifo', [path.join(spool, seg(0x44))])
  await writeFile(path.join(spool, seg(0x45)), 'a real segment')
  if (process.getuid?.() === 0) {
    await writeFile(path.join(spool, seg(0x46)), 'someone else\'s')
    await chown(path.join(spool, seg(0x46)), 65534, 65534)
  }
  const store = openStore({ dir: path.join(dir, 'backups'), keys: NO_KEYS })
  const archiver = walArchiver({ spool, store, log, pollMs: 60_000, concurrency: 1 })
  for (let i = 0; i < 6; i++) await archiver.flush().catch(() => {})
  await archiver.flush()
  const refused = process.getuid?.() === 0 ? 4 : 3
  t.equal(archiver.status().refused, refused, 'every impostor refused')
  t.same(await store.listWal(), [seg(0x45)], 'only the real segment is archived')
  t.same(await readdir(spool), [], 'the impostors are deleted from the spool')
  t.equal(await readFile(secret, 'utf8'), 'the hub\'s secret', 'what they pointed at is untouched')

  // The same name again: the same bytes count as archived; other bytes fail loudly.
  await writeFile(path.join(spool, seg(0x45)), 'a real segment')
  await archiver.flush()
  t.same(await readdir(spool), [])
  await writeFile(path.join(spool, seg(0x45)), 'another cluster\'s segment')
  await t.rejects(archiver.flush(), /already archived .* with different content/)
  t.match(archiver.status(), { failing: true, lastError: /different content/ })
  let text = ''
  for await (const c of await store.open(walPath(seg(0x45)))) text += (c as Buffer).toString()
  t.equal(text, 'a real segment', 'the archived segment is not overwritten')
})
