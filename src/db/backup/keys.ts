// Backup encryption keys: HUB_BACKUP_KEY (the current key, 32 bytes in base64) and
// HUB_BACKUP_OLD_KEYS (comma-separated older keys, kept for reading only). A key's id, stored in
// every sealed file's header, is the first 8 bytes of its sha256: it names the key without
// revealing it, so a file says which key opens it.
import { createHash } from 'node:crypto'
import type { BackupKey, Keyring } from './types.ts'

export type { BackupKey, Keyring } from './types.ts'

export function keyId (key: Buffer): string {
  return createHash('sha256').update(key).digest().subarray(0, 8).toString('hex')
}

function parseKey (text: string, name: string): BackupKey {
  const trimmed = text.trim()
  // Never echo the value: it is the secret.
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(trimmed)) throw new Error(`${name}: not base64 (expected 32 random bytes in base64, e.g. from \`openssl rand -base64 32\`)`)
  const key = Buffer.from(trimmed, 'base64')
  if (key.length !== 32) throw new Error(`${name}: must be 32 bytes in base64 (got ${key.length} bytes; e.g. \`openssl rand -base64 32\`)`)
  return { id: keyId(key), key }
}

/** Parses the current key and the old ones; throws naming the variable (never the value) when one is malformed. */
export function parseKeyring (current?: string, old?: string): Keyring {
  const byId = new Map<string, BackupKey>()
  const currentKey = current === undefined || current.trim() === '' ? undefined : parseKey(current, 'HUB_BACKUP_KEY')
  if (currentKey !== undefined) byId.set(currentKey.id, currentKey)
  const olds = (old ?? '').split(',').map(s => s.trim()).filter(s => s !== '')
  // `unencrypted` among the old keys: files sealed before HUB_BACKUP_KEY was set may be read.
  // Otherwise, with a key set, an unencrypted file is refused (it could be a swapped-in forgery).
  const acceptPlain = olds.includes(ACCEPT_PLAIN)
  olds.filter(text => text !== ACCEPT_PLAIN).forEach((text, i) => {
    const key = parseKey(text, `HUB_BACKUP_OLD_KEYS (key ${i + 1})`)
    if (!byId.has(key.id)) byId.set(key.id, key)
  })
  return { ...(currentKey === undefined ? {} : { current: currentKey }), byId, ...(acceptPlain ? { acceptPlain } : {}) }
}

/** The HUB_BACKUP_OLD_KEYS entry that lets unencrypted (pre-key) files be read while a key is set. */
export const ACCEPT_PLAIN = 'unencrypted'

/** A keyring with no key: files are sealed unencrypted and only unencrypted files open. */
export const NO_KEYS: Keyring = { byId: new Map() }
