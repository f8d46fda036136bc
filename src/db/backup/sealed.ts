// The sealed file format of every backup file and archived WAL segment (docs/operations.md,
// "Backup file format"):
//
//   header  "HUBBK1" | flags u8 (1 gzip, 2 encrypted) | key id 8 bytes | chunk size u32 | nonce prefix 8 bytes
//   chunks  length u32 | final u8 | payload | GCM tag 16 bytes (encrypted files only)
//   trailer sha256 of every byte before it
//
// The payload is the (gzip-compressed) plaintext cut into chunks of at most `chunk size` bytes,
// each encrypted with AES-256-GCM under nonce = prefix || chunk counter (u32) and additional data
// = header || counter || final, so chunks cannot be reordered, moved between files, or dropped
// from the end (the last one is flagged final, a file ending without it is truncated). The nonce
// prefix is random per file, so one key never sees a nonce twice. The trailer lets an unencrypted
// file detect corruption too.
import { createCipheriv, createDecipheriv, createHash, randomBytes, type Hash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { mkdir, open, rename, rm, type FileHandle } from 'node:fs/promises'
import path from 'node:path'
import { Readable, Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { createGunzip, createGzip } from 'node:zlib'
import type { Keyring } from './types.ts'

const MAGIC = Buffer.from('HUBBK1')
const HEADER_BYTES = 27
const FLAG_GZIP = 1
const FLAG_ENCRYPTED = 2
const CHUNK_BYTES = 65_536
const MAX_CHUNK_BYTES = 16 * 1024 * 1024
const TAG_BYTES = 16

/** A backup file that cannot be opened: wrong or missing key, tampered, truncated, or not a sealed file. */
export class BackupFileError extends Error {
  readonly file: string
  constructor (file: string, message: string, options?: { cause?: unknown }) {
    super(`${file}: ${message}`, options)
    this.name = 'BackupFileError'
    this.file = file
  }
}

function chunkAad (header: Buffer, counter: number, final: boolean): Buffer {
  const tail = Buffer.alloc(5)
  tail.writeUInt32BE(counter, 0)
  tail[4] = final ? 1 : 0
  return Buffer.concat([header, tail])
}

function chunkNonce (prefix: Buffer, counter: number): Buffer {
  const nonce = Buffer.alloc(12)
  prefix.copy(nonce, 0)
  nonce.writeUInt32BE(counter, 8)
  return nonce
}

/** A pass-through stream that hashes (sha256) and counts what flows through it. */
export function measuring (): Transform & { readonly sha256: () => string, readonly bytes: () => number } {
  const hash = createHash('sha256')
  let bytes = 0
  const stream = new Transform({
    transform (chunk: Buffer, _enc, cb) {
      hash.update(chunk)
      bytes += chunk.length
      cb(null, chunk)
    }
  })
  return Object.assign(stream, { sha256: () => hash.digest('hex'), bytes: () => bytes })
}

/**
 * Seals `src` (a file or a stream) into `dst`, encrypted with keys.current when there is one.
 * Written to a temporary file, flushed, then renamed: `dst` is complete or absent.
 */
export async function sealFile (src: string | Readable, dst: string, keys: Keyring, opts: { compress?: boolean } = {}): Promise<{ bytes: number, sha256: string }> {
  const key = keys.current
  const compress = opts.compress ?? true
  const header = Buffer.alloc(HEADER_BYTES)
  MAGIC.copy(header, 0)
  header[6] = (compress ? FLAG_GZIP : 0) | (key === undefined ? 0 : FLAG_ENCRYPTED)
  if (key !== undefined) Buffer.from(key.id, 'hex').copy(header, 7)
  header.writeUInt32BE(CHUNK_BYTES, 15)
  const prefix = randomBytes(8)
  prefix.copy(header, 19)

  const counting = measuring()

  await mkdir(path.dirname(dst), { recursive: true, mode: 0o700 })
  const tmp = `${dst}.${randomBytes(6).toString('hex')}.tmp`
  const fh = await open(tmp, 'wx', 0o600)
  try {
    const fileHash = createHash('sha256')
    const write = async (buf: Buffer) => {
      fileHash.update(buf)
      await fh.write(buf)
    }
    let counter = 0
    const emit = async (payload: Buffer, final: boolean) => {
      let body = payload
      let tag: Buffer | undefined
      if (key !== undefined) {
        const cipher = createCipheriv('aes-256-gcm', key.key, chunkNonce(prefix, counter))
        cipher.setAAD(chunkAad(header, counter, final))
        body = Buffer.concat([cipher.update(payload), cipher.final()])
        tag = cipher.getAuthTag()
      }
      const head = Buffer.alloc(5)
      head.writeUInt32BE(body.length, 0)
      head[4] = final ? 1 : 0
      await write(tag === undefined ? Buffer.concat([head, body]) : Buffer.concat([head, body, tag]))
      counter++
    }
    await write(header)
    const source = typeof src === 'string' ? createReadStream(src) : src
    const consume = async (input: AsyncIterable<Buffer>) => {
      let pending: Buffer = Buffer.alloc(0)
      for await (const piece of input) {
        pending = pending.length === 0 ? piece : Buffer.concat([pending, piece])
        while (pending.length > CHUNK_BYTES) {
          await emit(pending.subarray(0, CHUNK_BYTES), false)
          pending = pending.subarray(CHUNK_BYTES)
        }
      }
      await emit(pending, true)
    }
    if (compress) await pipeline(source, counting, createGzip({ level: 6 }), consume)
    else await pipeline(source, counting, consume)
    await fh.write(fileHash.digest())
    await fh.sync()
    await fh.close()
    await rename(tmp, dst)
  } catch (err) {
    await fh.close().catch(() => {})
    await rm(tmp, { force: true })
    throw err
  }
  return { bytes: counting.bytes(), sha256: counting.sha256() }
}

/** Reads a file through a FileHandle in exact-size pieces (a short buffer means end of file). */
function reader (fh: FileHandle, start: number, hash: Hash) {
  let position = start
  return async (n: number): Promise<Buffer> => {
    const buf = Buffer.alloc(n)
    let got = 0
    while (got < n) {
      const { bytesRead } = await fh.read(buf, got, n - got, position)
      if (bytesRead === 0) break
      got += bytesRead
      position += bytesRead
    }
    const out = buf.subarray(0, got)
    hash.update(out)
    return out
  }
}

/**
 * Opens a sealed file for reading: the header and key are checked now (rejecting with a
 * BackupFileError), every chunk as it streams (the stream errors with a BackupFileError).
 * With `gzipped`, a compressed file is not decompressed: the stream is then a gzip file.
 */
export async function openFile (src: string, keys: Keyring, opts: { gzipped?: boolean } = {}): Promise<Readable> {
  const fh = await open(src, 'r').catch((err: NodeJS.ErrnoException) => {
    throw new BackupFileError(src, `cannot open (${err.code ?? String(err)})`, { cause: err })
  })
  try {
    const fileHash = createHash('sha256')
    const read = reader(fh, 0, fileHash)
    const header = await read(HEADER_BYTES)
    if (header.length < HEADER_BYTES || !header.subarray(0, 6).equals(MAGIC)) throw new BackupFileError(src, 'not a sealed backup file (bad header)')
    const flags = header.readUInt8(6)
    if ((flags & ~(FLAG_GZIP | FLAG_ENCRYPTED)) !== 0) throw new BackupFileError(src, `unknown flags ${flags}`)
    const chunkBytes = header.readUInt32BE(15)
    if (chunkBytes === 0 || chunkBytes > MAX_CHUNK_BYTES) throw new BackupFileError(src, 'corrupted header (chunk size)')
    const encrypted = (flags & FLAG_ENCRYPTED) !== 0
    const id = header.subarray(7, 15).toString('hex')
    const key = encrypted ? keys.byId.get(id) : undefined
    if (encrypted && key === undefined) {
      throw new BackupFileError(src, keys.byId.size === 0
        ? `encrypted with key ${id}, and no HUB_BACKUP_KEY is set`
        : `encrypted with key ${id}, which is neither HUB_BACKUP_KEY nor one of HUB_BACKUP_OLD_KEYS`)
    }
    if (!encrypted && keys.current !== undefined && keys.acceptPlain !== true) {
      // A downgrade: whoever can write the store could swap in an unencrypted file of their own.
      throw new BackupFileError(src, 'not encrypted, while HUB_BACKUP_KEY is set: refused (for files written before the key was set, add `unencrypted` to HUB_BACKUP_OLD_KEYS)')
    }
    const prefix = header.subarray(19, 27)
    const chunks = async function * (): AsyncGenerator<Buffer> {
      try {
        for (let counter = 0; ; counter++) {
          const head = await read(5)
          if (head.length < 5) throw new BackupFileError(src, 'truncated (the final chunk is missing)')
          const length = head.readUInt32BE(0)
          const final = head[4] === 1
          if (head.readUInt8(4) > 1 || length > chunkBytes + 1024) throw new BackupFileError(src, `corrupted (chunk ${counter} header)`)
          const body = await read(length + (encrypted ? TAG_BYTES : 0))
          if (body.length < length + (encrypted ? TAG_BYTES : 0)) throw new BackupFileError(src, 'truncated (inside a chunk)')
          if (key !== undefined) {
            const decipher = createDecipheriv('aes-256-gcm', key.key, chunkNonce(prefix, counter))
            decipher.setAAD(chunkAad(header, counter, final))
            decipher.setAuthTag(body.subarray(length))
            try {
              yield Buffer.concat([decipher.update(body.subarray(0, length)), decipher.final()])
            } catch (err) {
              throw new BackupFileError(src, `tampered or corrupted (chunk ${counter} fails authentication)`, { cause: err })
            }
          } else {
            yield body
          }
          if (final) break
        }
        const expected = fileHash.copy().digest()
        const trailer = await read(32)
        if (trailer.length < 32) throw new BackupFileError(src, 'truncated (the checksum trailer is missing)')
        if (!trailer.equals(expected)) throw new BackupFileError(src, 'corrupted (checksum mismatch)')
        if ((await read(1)).length !== 0) throw new BackupFileError(src, 'corrupted (data after the end)')
      } finally {
        await fh.close()
      }
    }
    const raw = Readable.from(chunks(), { objectMode: false })
    if ((flags & FLAG_GZIP) === 0 || opts.gzipped === true) return raw
    const unzipped = createGunzip()
    raw.on('error', err => unzipped.destroy(err))
    raw.pipe(unzipped)
    return Readable.from((async function * () {
      try {
        for await (const piece of unzipped) yield piece as Buffer
      } catch (err) {
        if (err instanceof BackupFileError) throw err
        throw new BackupFileError(src, `corrupted (${(err as Error).message})`, { cause: err })
      } finally {
        raw.destroy()
      }
    })(), { objectMode: false })
  } catch (err) {
    await fh.close().catch(() => {})
    throw err
  }
}

/** Whether a sealed file's payload is gzip-compressed (from its header). */
export async function isCompressed (src: string): Promise<boolean> {
  const fh = await open(src, 'r')
  try {
    const header = Buffer.alloc(HEADER_BYTES)
    await fh.read(header, 0, HEADER_BYTES, 0)
    if (!header.subarray(0, 6).equals(MAGIC)) throw new BackupFileError(src, 'not a sealed backup file (bad header)')
    return (header.readUInt8(6) & FLAG_GZIP) !== 0
  } finally {
    await fh.close()
  }
}
