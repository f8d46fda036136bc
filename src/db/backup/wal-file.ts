// Putting one WAL file (segment or timeline history) into the store, from a folder the database's
// OS user can write (the spool, pg_wal): opened with openChecked (no link, no FIFO, the right
// owner, at most a segment's size), and never replacing an archived file by different bytes. An
// archived name comes back when a second cluster archives into the same store (a fresh initdb's
// timeline 1 after a failed restore, another hub's cluster): overwriting would destroy the WAL the
// store's backups need, so it fails loudly instead (the archiver then reports itself failing).
import { createHash } from 'node:crypto'
import { readdir } from 'node:fs/promises'
import path from 'node:path'
import { Readable } from 'node:stream'
import { openChecked } from './safe-open.ts'
import { walPath, WAL_SEGMENT_NAME, type BackupStore } from './store.ts'

/** The embedded cluster's WAL segment size (initdb's default); nothing in the spool is larger. */
export const MAX_WAL_FILE_BYTES = 16 * 1024 * 1024

const HISTORY = /^[0-9A-F]{8}\.history$/

async function sha256Of (stream: AsyncIterable<Buffer>): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of stream) hash.update(chunk)
  return hash.digest('hex')
}

/**
 * The system identifier in a WAL segment's first page (its long header: xlp_sysid after the
 * 24-byte standard header, little-endian on the platforms the embedded binaries ship for), or
 * undefined when the bytes do not start with one.
 */
export function segmentSystemIdentifier (bytes: Buffer): string | undefined {
  if (bytes.length < 32 || (bytes.readUInt16LE(2) & 0x0002) === 0) return undefined // XLP_LONG_HEADER
  return bytes.readBigUInt64LE(24).toString()
}

/**
 * Seals `file` into the store as WAL `name`; 'same' when the store already held these bytes.
 * With `systemIdentifier` (pg_control_system() of the archiving cluster), a segment of another
 * cluster is refused.
 */
export async function storeWal (store: BackupStore, name: string, file: string, owner?: { uid: number }, systemIdentifier?: string): Promise<'stored' | 'same'> {
  const fh = await openChecked(file, { uid: owner?.uid, maxBytes: MAX_WAL_FILE_BYTES })
  let bytes: Buffer
  try {
    bytes = await fh.readFile()
  } finally {
    await fh.close()
  }
  if (systemIdentifier !== undefined && WAL_SEGMENT_NAME.test(name)) {
    const found = segmentSystemIdentifier(bytes)
    if (found !== undefined && found !== systemIdentifier) {
      throw new Error(`WAL ${name} belongs to another cluster (system identifier ${found}, this cluster's is ${systemIdentifier}): not archived`)
    }
  }
  const rel = walPath(name)
  if (await store.exists(rel)) {
    const archived = await sha256Of(await store.open(rel))
    const incoming = createHash('sha256').update(bytes).digest('hex')
    if (archived === incoming) return 'same'
    throw new Error(`WAL ${name} is already archived in ${store.dir} with different content: another cluster (a fresh initdb, a second hub) archives into this store. ` +
      'Nothing was overwritten; give that cluster its own HUB_BACKUP_DIR, or move the store aside (docs/operations.md)')
  }
  await store.put(rel, Readable.from([bytes]), { compress: true })
  return 'stored'
}

/**
 * Seals the timeline history files of `pgdata`/pg_wal that the store lacks. A cluster promoted
 * with archiving off (db:restore's throwaway) never archives its new timeline's history file,
 * and every later base backup needs it. Returns the names sealed.
 */
export async function sealMissingHistory (store: BackupStore, pgdata: string, owner?: { uid: number }): Promise<string[]> {
  const names = (await readdir(path.join(pgdata, 'pg_wal'))).filter(n => HISTORY.test(n)).sort()
  const sealed: string[] = []
  for (const name of names) {
    if (await store.exists(walPath(name))) continue
    if (await storeWal(store, name, path.join(pgdata, 'pg_wal', name), owner) === 'stored') sealed.push(name)
  }
  return sealed
}
