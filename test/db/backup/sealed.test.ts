// The sealed file format: round trips with and without a key and compression; a wrong or missing
// key, a flipped byte, a dropped chunk, a truncated file and swapped chunks are all refused,
// naming the file.
import { randomBytes } from 'node:crypto'
import { mkdtemp, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { Readable } from 'node:stream'
import { text } from 'node:stream/consumers'
import t from 'tap'
import { keyId, NO_KEYS, parseKeyring } from '../../../src/db/backup/keys.ts'
import { BackupFileError, openFile, sealFile } from '../../../src/db/backup/sealed.ts'

const KEY_A = randomBytes(32).toString('base64')
const KEY_B = randomBytes(32).toString('base64')

async function tempDir (t: { teardown (fn: () => unknown): void }) {
  const dir = await mkdtemp(path.join(tmpdir(), 'hub-sealed-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return dir
}

async function readAll (file: string, keys = parseKeyring(KEY_A, 'unencrypted')): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const c of await openFile(file, keys)) chunks.push(c as Buffer)
  return Buffer.concat(chunks)
}

t.test('parseKeyring', async t => {
  const ring = parseKeyring(KEY_A, ` ${KEY_B} , ${KEY_A}`)
  t.equal(ring.current?.id, keyId(Buffer.from(KEY_A, 'base64')))
  t.match(ring.current?.id, /^[0-9a-f]{16}$/)
  t.equal(ring.byId.size, 2, 'old keys are added once')
  t.same(parseKeyring(undefined, undefined), { byId: new Map() })
  t.same(parseKeyring('', '').current, undefined)
  t.throws(() => parseKeyring(randomBytes(16).toString('base64')), /HUB_BACKUP_KEY: must be 32 bytes in base64 \(got 16 bytes/)
  t.throws(() => parseKeyring('not base64 !!'), /HUB_BACKUP_KEY: not base64/)
  t.throws(() => parseKeyring(KEY_A, `${KEY_B},abc`), /HUB_BACKUP_OLD_KEYS \(key 2\)/)
  try {
    parseKeyring('c2hvcnQ=')
  } catch (err) {
    t.notMatch((err as Error).message, /c2hvcnQ/, 'the value is never echoed')
  }
})

t.test('round trips: encrypted or not, compressed or not, empty, several chunks, a stream', async t => {
  const dir = await tempDir(t)
  const big = randomBytes(200_000)
  const src = path.join(dir, 'src')
  for (const [name, data] of [['empty', Buffer.alloc(0)], ['one', Buffer.from('hello')], ['big', big], ['exact', randomBytes(65_536 * 2)]] as const) {
    await writeFile(src, data)
    for (const keys of [parseKeyring(KEY_A), NO_KEYS]) {
      for (const compress of [true, false]) {
        const dst = path.join(dir, `${name}-${keys.current === undefined ? 'plain' : 'enc'}-${compress}.seg`)
        const sealed = await sealFile(src, dst, keys, { compress })
        t.equal(sealed.bytes, data.length)
        t.equal(sealed.sha256, (await import('node:crypto')).createHash('sha256').update(data).digest('hex'))
        t.ok((await readAll(dst, keys.current === undefined ? NO_KEYS : parseKeyring(KEY_A))).equals(data), `${path.basename(dst)} round trips`)
        t.equal((await stat(dst)).mode & 0o777, 0o600)
      }
    }
  }
  const fromStream = path.join(dir, 'stream.seg')
  await sealFile(Readable.from([Buffer.from('a'), Buffer.from('b')]), fromStream, parseKeyring(KEY_A))
  t.equal(await text(await openFile(fromStream, parseKeyring(KEY_A))), 'ab')
  // A 16 MB mostly empty WAL segment shrinks.
  const zeros = path.join(dir, 'zeros')
  await writeFile(zeros, Buffer.alloc(16 * 1024 * 1024))
  await sealFile(zeros, path.join(dir, 'zeros.seg'), parseKeyring(KEY_A))
  t.ok((await stat(path.join(dir, 'zeros.seg'))).size < 100_000, 'compressed')
  const encrypted = await readFile(path.join(dir, 'one-enc-false.seg'))
  t.notOk(encrypted.includes(Buffer.from('hello')), 'the plaintext is not in an encrypted file')
})

t.test('an old key still opens; a missing or unknown key is refused', async t => {
  const dir = await tempDir(t)
  const dst = path.join(dir, 'a.seg')
  await sealFile(Readable.from([Buffer.from('secret')]), dst, parseKeyring(KEY_A))
  t.equal((await readAll(dst, parseKeyring(KEY_B, KEY_A))).toString(), 'secret')
  const id = keyId(Buffer.from(KEY_A, 'base64'))
  await t.rejects(openFile(dst, NO_KEYS), { name: 'BackupFileError', file: dst, message: new RegExp(`key ${id}, and no HUB_BACKUP_KEY is set`) })
  await t.rejects(openFile(dst, parseKeyring(KEY_B)), { name: 'BackupFileError', message: /neither HUB_BACKUP_KEY nor one of HUB_BACKUP_OLD_KEYS/ })
  await writeFile(path.join(dir, 'junk'), 'not sealed at all, just text')
  await t.rejects(openFile(path.join(dir, 'junk'), NO_KEYS), /not a sealed backup file/)
  await t.rejects(openFile(path.join(dir, 'absent'), NO_KEYS), { name: 'BackupFileError', message: /ENOENT/ })
})

t.test('tampering and truncation are detected, encrypted or not', async t => {
  const dir = await tempDir(t)
  const src = path.join(dir, 'src')
  await writeFile(src, randomBytes(150_000))
  for (const keys of [parseKeyring(KEY_A), NO_KEYS]) {
    const label = keys.current === undefined ? 'plain' : 'encrypted'
    const good = path.join(dir, `${label}.seg`)
    await sealFile(src, good, keys, { compress: false })
    const bytes = await readFile(good)
    const flip = Buffer.from(bytes)
    flip.writeUInt8(flip.readUInt8(70_000) ^ 1, 70_000)
    const flipped = path.join(dir, `${label}-flip.seg`)
    await writeFile(flipped, flip)
    await t.rejects(readAll(flipped), { name: 'BackupFileError', file: flipped }, `${label}: a flipped byte`)

    const cut = path.join(dir, `${label}-cut.seg`)
    await writeFile(cut, bytes)
    await truncate(cut, 27 + 2 * (5 + 65_536 + (keys.current === undefined ? 0 : 16)))
    await t.rejects(readAll(cut), { name: 'BackupFileError', message: /truncated/ }, `${label}: cut at a chunk boundary`)

    const noTrailer = path.join(dir, `${label}-notrailer.seg`)
    await writeFile(noTrailer, bytes.subarray(0, bytes.length - 32))
    await t.rejects(readAll(noTrailer), { name: 'BackupFileError', message: /truncated/ }, `${label}: trailer cut`)

    const extra = path.join(dir, `${label}-extra.seg`)
    await writeFile(extra, Buffer.concat([bytes, Buffer.from('x')]))
    await t.rejects(readAll(extra), { name: 'BackupFileError', message: /after the end/ })
  }
  // Compressed and unencrypted: a flipped byte surfaces as a BackupFileError too (gzip or the trailer).
  const zipped = path.join(dir, 'zipped.seg')
  await writeFile(src, Buffer.alloc(300_000, 'abc'))
  await sealFile(src, zipped, NO_KEYS)
  const z = await readFile(zipped)
  z.writeUInt8(z.readUInt8(40) ^ 0xff, 40)
  await writeFile(zipped, z)
  await t.rejects(readAll(zipped), { name: 'BackupFileError', file: zipped })
  // Encrypted: swapping two whole chunks fails authentication (the counter is in the nonce).
  const enc = await readFile(path.join(dir, 'encrypted.seg'))
  const rec = 5 + 65_536 + 16
  const swapped = Buffer.concat([enc.subarray(0, 27), enc.subarray(27 + rec, 27 + 2 * rec), enc.subarray(27, 27 + rec), enc.subarray(27 + 2 * rec)])
  const swappedFile = path.join(dir, 'swapped.seg')
  await writeFile(swappedFile, swapped)
  await t.rejects(readAll(swappedFile), { name: 'BackupFileError', message: /fails authentication/ })
  // Clearing the final flag of the last chunk: authentication fails (the flag is in the AAD).
  const unflagged = Buffer.from(enc)
  t.equal(unflagged[27 + 2 * rec + 4], 1, 'the third chunk is the final one')
  unflagged[27 + 2 * rec + 4] = 0
  const unflaggedFile = path.join(dir, 'unflagged.seg')
  await writeFile(unflaggedFile, unflagged)
  const err = await readAll(unflaggedFile).catch((e: unknown) => e)
  t.ok(err instanceof BackupFileError && err.file === unflaggedFile && /fails authentication/.test(err.message))
})

t.test('with a key set, an unencrypted file is refused (a downgrade), unless `unencrypted` is among the old keys', async t => {
  const dir = await tempDir(t)
  const plain = path.join(dir, 'plain.seg')
  await sealFile(Readable.from([Buffer.from('forged')]), plain, NO_KEYS)
  await t.rejects(openFile(plain, parseKeyring(KEY_A)), { name: 'BackupFileError', file: plain, message: /not encrypted, while HUB_BACKUP_KEY is set: refused/ })
  const pre = parseKeyring(KEY_A, `${KEY_B},unencrypted`)
  t.equal(pre.acceptPlain, true)
  t.equal(pre.byId.size, 2, '`unencrypted` is no key')
  t.equal(await text(await openFile(plain, pre)), 'forged')
  t.equal(await text(await openFile(plain, NO_KEYS)), 'forged', 'without a key, plain files open as before')
})
