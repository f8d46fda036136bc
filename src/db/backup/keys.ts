// Backup encryption keys: HUB_BACKUP_KEY (the current key, 32 bytes in base64) and
// HUB_BACKUP_OLD_KEYS (comma-separated older keys, kept for reading only).
import type { Keyring } from './types.ts'

export type { BackupKey, Keyring } from './types.ts'

export function parseKeyring (current?: string, old?: string): Keyring {
  throw new Error('not yet')
}
