// The backup folder (HUB_BACKUP_DIR) and the copy kept elsewhere (a Destination).
import type { BackupLogger, Keyring, Manifest } from './types.ts'

export type { Manifest, ManifestFile } from './types.ts'

/** Where finished backup files are copied as well (HUB_BACKUP_COPY_DIR); object storage can follow. */
export interface Destination {
  name: string
  put (relPath: string, localFile: string): Promise<void>
  remove (relPath: string): Promise<void>
  list (prefix: string): Promise<string[]>
}

export function directoryDestination (dir: string): Destination {
  throw new Error('not yet')
}

export interface BackupStore {
  readonly dir: string
  readonly keys: Keyring
  readonly copy?: Destination
  /** Newest last. */
  listBases (): Promise<Manifest[]>
  readManifest (backupId: string): Promise<Manifest>
  /** Archived segment and history file names, sorted. */
  listWal (): Promise<string[]>
  /** Removes a base backup locally and from the copy. */
  removeBase (backupId: string): Promise<void>
  /** Removes WAL segments of `timeline` (and older timelines) before `segment`; returns how many. */
  removeWalBefore (segment: string, timeline: number): Promise<number>
}

export function openStore (opts: { dir: string, keys: Keyring, copy?: Destination, log?: BackupLogger }): BackupStore {
  throw new Error('not yet')
}
