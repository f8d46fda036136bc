// Builds a new data folder from a base backup plus archived WAL, with a recovery target.
import type { BackupStore } from './store.ts'
import type { Manifest } from './types.ts'

export type RestoreTarget =
  | { kind: 'latest' }
  | { kind: 'backup', id: string }
  | { kind: 'time', at: Date }
  | { kind: 'immediate', id: string }

export async function restoreDataDir (opts: {
  store: BackupStore
  /** A new, empty (or missing) folder. */
  target: string
  to: RestoreTarget
  /** chown every file to this owner (the `postgres` user when running as root). */
  owner?: { uid: number, gid: number }
}): Promise<{ manifest: Manifest, recovery: string }> {
  throw new Error('not yet')
}
