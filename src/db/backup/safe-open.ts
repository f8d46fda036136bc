// Opening a file another OS user can write to (the WAL spool and the data folder belong to the
// database's `postgres` user), as root, without letting that user make root read something else:
// O_NOFOLLOW refuses a symbolic link put where the file was, O_NONBLOCK keeps a FIFO from blocking
// the open, and fstat on the opened descriptor (not the name, which can be swapped after a check)
// requires a regular file with one link (a hard link to a root-only file has two), owned by the
// expected user and not larger than expected. Whatever is read is then read from that descriptor.
import { constants } from 'node:fs'
import { open, type FileHandle } from 'node:fs/promises'

/** A file refused by openChecked: not what it claims to be. */
export class UnsafeFileError extends Error {
  readonly file: string
  constructor (file: string, message: string) {
    super(`${file}: refused (${message})`)
    this.name = 'UnsafeFileError'
    this.file = file
  }
}

export interface CheckedOpen {
  /** The owner the file must have (the `postgres` user when running as root); unchecked when absent. */
  uid?: number
  /** Largest size accepted. */
  maxBytes?: number
  /** Require a single link (no hard link to another file). Default true. */
  singleLink?: boolean
}

export async function openChecked (file: string, opts: CheckedOpen = {}): Promise<FileHandle> {
  let fh: FileHandle
  try {
    fh = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') throw new UnsafeFileError(file, 'a symbolic link')
    throw err
  }
  try {
    const s = await fh.stat()
    if (!s.isFile()) throw new UnsafeFileError(file, 'not a regular file')
    if ((opts.singleLink ?? true) && s.nlink !== 1) throw new UnsafeFileError(file, `${s.nlink} hard links`)
    if (opts.uid !== undefined && s.uid !== opts.uid) throw new UnsafeFileError(file, `owned by uid ${s.uid}, not ${opts.uid}`)
    if (opts.maxBytes !== undefined && s.size > opts.maxBytes) throw new UnsafeFileError(file, `${s.size} bytes, more than ${opts.maxBytes}`)
    return fh
  } catch (err) {
    await fh.close().catch(() => {})
    throw err
  }
}
