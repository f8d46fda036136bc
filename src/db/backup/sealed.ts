// The sealed file format of every backup file and archived WAL segment (docs/operations.md,
// "Backup file format").
import type { Readable } from 'node:stream'
import type { Keyring } from './types.ts'

/** A backup file that cannot be opened: wrong or missing key, tampered, truncated, or not a sealed file. */
export class BackupFileError extends Error {
  readonly file: string
  constructor (file: string, message: string, options?: { cause?: unknown }) {
    super(`${file}: ${message}`, options)
    this.name = 'BackupFileError'
    this.file = file
  }
}

export async function sealFile (src: string | Readable, dst: string, keys: Keyring, opts?: { compress?: boolean }): Promise<{ bytes: number, sha256: string }> {
  throw new Error('not yet')
}

export async function openFile (src: string, keys: Keyring): Promise<Readable> {
  throw new Error('not yet')
}
