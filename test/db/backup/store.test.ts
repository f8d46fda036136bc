// The backup store and its copy elsewhere: files land locally and in the copy, secrets reach the
// copy only when encrypted, manifests list newest last, and pruning removes from both places.
import { randomBytes } from 'node:crypto'
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { Readable } from 'node:stream'
import { text } from 'node:stream/consumers'
import t from 'tap'
import { NO_KEYS, parseKeyring } from '../../../src/db/backup/keys.ts'
import { directoryDestination, openStore, walPath } from '../../../src/db/backup/store.ts'
import type { Manifest } from '../../../src/db/backup/types.ts'

async function tempDir (t: { teardown (fn: () => unknown): void }) {
  const dir = await mkdtemp(path.join(tmpdir(), 'hub-store-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return dir
}

function manifest (id: string, finishedAt: string): Manifest {
  return {
    id,
    startedAt: finishedAt,
    finishedAt,
    timeline: 1,
    startLsn: '0/2000028',
    stopLsn: '0/2000100',
    startWal: '000000010000000000000002',
    stopWal: '000000010000000000000002',
    pgVersion: '18',
    encrypted: false,
    files: [],
    directories: [],
    secrets: [],
    migrations: []
  }
}

const log = { info () {}, error () {}, warnings: [] as string[], warn (_o: object, msg: string) { this.warnings.push(msg) } }

t.test('without a key: files reach the copy, secrets do not', async t => {
  const dir = await tempDir(t)
  const copyDir = path.join(dir, 'copy')
  const store = openStore({ dir: path.join(dir, 'store'), keys: NO_KEYS, copy: directoryDestination(copyDir), log })
  await store.put(walPath('000000010000000000000001'), Readable.from([Buffer.from('seg')]))
  await store.put('base/b1/secrets/postgres-password.seg', Readable.from([Buffer.from('pw')]), { secret: true })
  t.equal(await text(await store.open(walPath('000000010000000000000001'))), 'seg')
  t.equal((await stat(store.dir)).mode & 0o777, 0o700, 'the store is private to the hub')
  t.same(await store.copy?.list(''), ['wal/000000010000000000000001.seg'], 'the secret stayed local')
  t.ok(await store.exists('base/b1/secrets/postgres-password.seg'))
  t.match(log.warnings, [/not copied elsewhere/])
  t.ok((await readFile(path.join(copyDir, 'wal/000000010000000000000001.seg'))).equals(await readFile(store.path(walPath('000000010000000000000001')))))
})

t.test('with a key: secrets are copied (encrypted); manifests, removeBase, removeWalBefore', async t => {
  const dir = await tempDir(t)
  const keys = parseKeyring(randomBytes(32).toString('base64'))
  const copy = directoryDestination(path.join(dir, 'copy'))
  const store = openStore({ dir: path.join(dir, 'store'), keys, copy })
  await store.put('base/b1/secrets/agent-keys.json.seg', Readable.from([Buffer.from('{}')]), { secret: true })
  t.same(await copy.list('base/'), ['base/b1/secrets/agent-keys.json.seg'])
  await store.writeManifest(manifest('b2', '2026-12-03T10:00:00.000Z'))
  await store.writeManifest(manifest('b1', '2026-12-03T09:00:00.000Z'))
  t.same((await store.listBases()).map(m => m.id), ['b1', 'b2'], 'newest last')
  t.equal((await store.readManifest('b2')).finishedAt, '2026-12-03T10:00:00.000Z')
  await t.rejects(store.readManifest('../x'), /invalid backup id/)
  await t.rejects(openStore({ dir: store.dir, keys: NO_KEYS }).readManifest('b2'), { name: 'BackupFileError' })

  for (const name of ['000000010000000000000001', '000000010000000000000002', '000000010000000000000003', '00000002.history', '000000020000000000000003', '000000010000000000000002.00000028.backup']) {
    await store.put(walPath(name), Readable.from([Buffer.from(name)]))
  }
  t.equal(await store.removeWalBefore('000000020000000000000003', 2), 3)
  t.same(await store.listWal(), ['000000010000000000000003', '00000002.history', '000000020000000000000003'])
  t.same(await copy.list('wal/'), ['wal/000000010000000000000003.seg', 'wal/00000002.history.seg', 'wal/000000020000000000000003.seg'])
  await store.removeBase('b1')
  t.same((await store.listBases()).map(m => m.id), ['b2'])
  t.same(await copy.list('base/'), ['base/b2/manifest.seal'])
  t.throws(() => walPath('../../etc/passwd'), /not a WAL file name/)
  t.throws(() => store.path('a/../../b'), /invalid backup path/)
})

t.test('a manifest with a path outside the data folder is refused; listBases skips an unreadable manifest with a warning', async t => {
  const dir = await tempDir(t)
  const warned: string[] = []
  const store = openStore({ dir: path.join(dir, 'store'), keys: NO_KEYS, log: { info () {}, error () {}, warn (_o: object, msg: string) { warned.push(msg) } } })
  await store.writeManifest(manifest('good', '2026-12-03T09:00:00.000Z'))
  const bad = [
    { ...manifest('dotdot', '2026-12-03T10:00:00.000Z'), directories: ['base/../../../etc'] },
    { ...manifest('absolute', '2026-12-03T10:00:00.000Z'), files: [{ path: '/etc/cron.d/x', size: 1, sha256: '' }] },
    { ...manifest('secret', '2026-12-03T10:00:00.000Z'), secrets: ['../../root/.ssh/authorized_keys'] }
  ]
  for (const m of bad) {
    await store.writeManifest(m)
    await t.rejects(store.readManifest(m.id), { name: 'BackupFileError', message: /not a valid manifest \(invalid (backup path|secret name)/ }, m.id)
  }
  t.same((await store.listBases()).map(m => m.id), ['good'], 'the others are skipped, not fatal')
  t.equal(warned.length, 3)
  t.match(warned[0], /skipping a base backup whose manifest cannot be read/)
})
