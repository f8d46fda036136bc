// Builds a new data folder from a base backup plus archived WAL, with a recovery target, so that
// a plain `postgres -D <target>` replays to the target and promotes (a new timeline). The live
// cluster is never touched: the target must be new or empty.
//
// Every data file is checked against the manifest's sha256 as it is written (a mismatch names the
// file). The WAL the replay may need is decrypted into `<target>-wal` (next to the target),
// still gzip-compressed, where restore_command (plain shell, run by the `postgres` user, which
// holds no key) unpacks it. Remove that folder once the restored cluster has promoted.
import { createWriteStream } from 'node:fs'
import { appendFile, chmod, lchown, lstat, mkdir, readdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { pipeline } from 'node:stream/promises'
import { SHELL_SAFE_PATH } from './archiver.ts'
import { BackupFileError, isCompressed, measuring, openFile } from './sealed.ts'
import { walPath, WAL_SEGMENT_NAME, type BackupStore } from './store.ts'
import type { Manifest } from './types.ts'
import { eachLimited } from './each-limited.ts'

export type RestoreTarget =
  | { kind: 'latest' }
  | { kind: 'backup', id: string }
  | { kind: 'time', at: Date }
  | { kind: 'immediate', id: string }

export interface RestoreResult {
  manifest: Manifest
  /** What the restored folder recovers to, for people. */
  recovery: string
  /** The staged WAL (decrypted, compressed): remove it once the restored cluster has promoted. */
  walDir: string
}

async function chooseBase (store: BackupStore, to: RestoreTarget): Promise<Manifest> {
  if (to.kind === 'backup' || to.kind === 'immediate') return await store.readManifest(to.id)
  const unreadable: unknown[] = []
  const bases = await store.listBases((_id, err) => unreadable.push(err))
  if (to.kind === 'latest') {
    const newest = bases.at(-1)
    if (newest === undefined) throw unreadable[0] ?? new Error(`no finished base backup in ${store.dir}`)
    return newest
  }
  // A base backup is consistent at its stop point, which it reached before it finished.
  const at = to.at.toISOString()
  const before = bases.filter(m => m.finishedAt <= at).at(-1)
  if (before === undefined) {
    if (unreadable[0] !== undefined) throw unreadable[0]
    throw new Error(`no base backup finished before ${at}${bases[0] === undefined ? '' : ` (the oldest finished at ${bases[0].finishedAt})`}`)
  }
  return before
}

/** The archived WAL a replay from `manifest` may ask for: history files, and segments from its start (up to its stop for a backup target). */
async function neededWal (store: BackupStore, manifest: Manifest, upToStop: boolean): Promise<string[]> {
  const from = manifest.startWal.slice(8)
  const to = manifest.stopWal.slice(8)
  return (await store.listWal()).filter(name => {
    if (name.endsWith('.history')) return true
    if (!WAL_SEGMENT_NAME.test(name)) return false // .backup and .partial files are never asked for
    const tli = Number.parseInt(name.slice(0, 8), 16)
    const pos = name.slice(8)
    if (upToStop) return tli === manifest.timeline && pos >= from && pos <= to
    return tli >= manifest.timeline && pos >= from
  })
}

async function restoreFile (store: BackupStore, manifest: Manifest, file: Manifest['files'][number], target: string): Promise<void> {
  const sealed = store.path(`base/${manifest.id}/files/${file.path}.seg`)
  const out = path.join(target, file.path)
  await mkdir(path.dirname(out), { recursive: true, mode: 0o700 })
  const counting = measuring()
  await pipeline(await openFile(sealed, store.keys), counting, createWriteStream(out, { mode: 0o600 }))
  const sha256 = counting.sha256()
  const size = counting.bytes()
  if (sha256 !== file.sha256 || size !== file.size) {
    throw new BackupFileError(sealed, `does not match the manifest of backup ${manifest.id} (${file.path}: sha256 ${sha256}, ${size} bytes; expected ${file.sha256}, ${file.size} bytes)`)
  }
}

/**
 * Hands a tree root wrote to `owner`: children before their folder (until then the folder is
 * root's, so the new owner cannot slip anything in), with lchown, never following a link.
 */
async function chownTree (dir: string, owner: { uid: number, gid: number }): Promise<void> {
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name)
    if (e.isSymbolicLink()) throw new Error(`${p} is a symbolic link: a restore writes none`)
    if (e.isDirectory()) await chownTree(p, owner)
    else await lchown(p, owner.uid, owner.gid)
  }
  await lchown(dir, owner.uid, owner.gid)
}

async function assertEmpty (dir: string): Promise<void> {
  const link = await lstat(dir).then(s => s.isSymbolicLink(), () => false)
  if (link) throw new Error(`${dir} is a symbolic link: a restore only writes a new folder`)
  const entries = await readdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return []
    throw err
  })
  if (entries.length > 0) throw new Error(`${dir} is not empty: a restore only writes a new folder`)
}

function recoverySettings (to: RestoreTarget, walDir: string): { lines: string[], recovery: (m: Manifest) => string } {
  const restoreCommand = `if test -f "${walDir}/%f.gz"; then gunzip -c "${walDir}/%f.gz" > %p; else cp "${walDir}/%f" %p; fi`
  const lines = [`restore_command = '${restoreCommand}'`, "recovery_target_timeline = 'latest'"]
  switch (to.kind) {
    case 'latest':
      return { lines, recovery: m => `base backup ${m.id} (finished ${m.finishedAt}), then every archived WAL segment (up to archive_timeout before the last one was written), then promoted` }
    case 'time':
      // PostgreSQL's timestamptz syntax (it refuses ISO 8601's "T" and "Z" here).
      lines.push(`recovery_target_time = '${to.at.toISOString().replace('T', ' ').replace('Z', '+00')}'`, "recovery_target_action = 'promote'")
      return { lines, recovery: m => `base backup ${m.id} (finished ${m.finishedAt}), then archived WAL up to ${to.at.toISOString()} (transactions committed at or before it), then promoted` }
    default:
      lines.push("recovery_target = 'immediate'", "recovery_target_action = 'promote'")
      return { lines, recovery: m => `base backup ${m.id} as it was when it finished (${m.finishedAt}, LSN ${m.stopLsn}), then promoted` }
  }
}

export async function restoreDataDir (opts: {
  store: BackupStore
  /** A new, empty (or missing) folder. */
  target: string
  to: RestoreTarget
  /** chown every file to this owner (the `postgres` user when running as root). */
  owner?: { uid: number, gid: number }
}): Promise<RestoreResult> {
  const { store, to, owner } = opts
  const target = path.resolve(opts.target)
  const walDir = `${target}-wal`
  if (!SHELL_SAFE_PATH.test(walDir)) throw new Error(`the restore target ${JSON.stringify(target)} may not hold quotes, $, \`, \\ or % (it goes into restore_command)`)
  await assertEmpty(target)
  await assertEmpty(walDir)
  const manifest = await chooseBase(store, to)
  await mkdir(target, { recursive: true, mode: 0o700 })
  await chmod(target, 0o700)
  await mkdir(walDir, { recursive: true, mode: 0o700 })
  for (const dir of manifest.directories) await mkdir(path.join(target, dir), { recursive: true, mode: 0o700 })
  await eachLimited(manifest.files, 2, async file => { await restoreFile(store, manifest, file, target) })

  const wal = await neededWal(store, manifest, to.kind === 'backup' || to.kind === 'immediate')
  if (!wal.includes(manifest.stopWal)) throw new Error(`the WAL segment ${manifest.stopWal} that backup ${manifest.id} needs is not in ${store.dir}/wal`)
  await eachLimited(wal, 2, async name => {
    const sealed = store.path(walPath(name))
    const gz = await isCompressed(sealed)
    await pipeline(await openFile(sealed, store.keys, { gzipped: true }), createWriteStream(path.join(walDir, gz ? `${name}.gz` : name), { mode: 0o600 }))
  })

  const { lines, recovery } = recoverySettings(to, walDir)
  for (const [name, value] of Object.entries(manifest.settings ?? {})) {
    if (/^[a-z_]+$/.test(name) && /^\d+$/.test(value)) lines.push(`${name} = ${value}`)
  }
  await appendFile(path.join(target, 'postgresql.conf'), `\n# Added by the hub's restore from backup ${manifest.id} (${new Date().toISOString()}).\n${lines.join('\n')}\n`)
  await writeFile(path.join(target, 'recovery.signal'), '', { mode: 0o600 })
  if (owner !== undefined) {
    await chownTree(target, owner)
    await chownTree(walDir, owner)
  }
  return { manifest, recovery: recovery(manifest), walDir }
}

/** Writes the hub's secrets saved with a base backup into `dir` (mode 0600); returns their names. */
export async function restoreSecrets (store: BackupStore, manifest: Manifest, dir: string): Promise<string[]> {
  await mkdir(dir, { recursive: true, mode: 0o700 })
  for (const name of manifest.secrets) {
    await pipeline(await store.open(`base/${manifest.id}/secrets/${name}.seg`), createWriteStream(path.join(dir, name), { mode: 0o600 }))
  }
  return manifest.secrets
}
