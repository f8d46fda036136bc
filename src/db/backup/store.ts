// The backup folder (HUB_BACKUP_DIR) and the copy kept elsewhere (a Destination):
//
//   wal/<name>.seg                        archived WAL segments and timeline history files
//   base/<id>/files/<path in PGDATA>.seg  the data folder as copied by a base backup
//   base/<id>/secrets/<name>.seg          the hub's secrets
//   base/<id>/manifest.seal               the manifest, written last: a base backup without one is unfinished
//
// Every file is sealed (sealed.ts). Every file is written locally first, then copied to the
// destination; the hub's secrets are copied there only when they are encrypted.
import { copyFile, mkdir, readdir, rename, rm, stat } from 'node:fs/promises'
import path from 'node:path'
import { Readable } from 'node:stream'
import { text } from 'node:stream/consumers'
import { BackupFileError, openFile, sealFile } from './sealed.ts'
import type { BackupLogger, Keyring, Manifest } from './types.ts'

export type { Manifest, ManifestFile } from './types.ts'

/** Where finished backup files are copied as well (HUB_BACKUP_COPY_DIR); object storage can follow. */
export interface Destination {
  name: string
  /** Stores `localFile` under `relPath` ('/'-separated), replacing any file there. */
  put (relPath: string, localFile: string): Promise<void>
  /** Removes the file `relPath`, or everything under it when it names a folder or prefix. */
  remove (relPath: string): Promise<void>
  /** Every stored path starting with `prefix`, sorted. */
  list (prefix: string): Promise<string[]>
}

/** WAL segment (24 hex digits), optionally `.partial` or a `.backup` history-of-backup file, or a timeline `.history` file. */
export const WAL_FILE_NAME = /^(?:[0-9A-F]{24}(?:\.partial|\.[0-9A-F]{8}\.backup)?|[0-9A-F]{8}\.history)$/
/** A WAL segment proper (timeline, log, segment: 24 hex digits), nothing else. */
export const WAL_SEGMENT_NAME = /^[0-9A-F]{24}$/
const BACKUP_ID = /^[0-9A-Za-z][0-9A-Za-z_-]{0,63}$/
const SECRET_NAME = /^[0-9A-Za-z][0-9A-Za-z._-]{0,63}$/

function checkRelPath (relPath: string): string {
  const parts = relPath.split('/')
  if (relPath === '' || relPath.startsWith('/') || parts.some(p => p === '..' || p === '.' || p === '')) {
    throw new Error(`invalid backup path ${JSON.stringify(relPath)}`)
  }
  return relPath
}

async function walk (root: string, rel = ''): Promise<string[]> {
  const entries = await readdir(path.join(root, rel), { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return []
    throw err
  })
  const out: string[] = []
  for (const e of entries) {
    const child = rel === '' ? e.name : `${rel}/${e.name}`
    if (e.isDirectory()) out.push(...await walk(root, child))
    else if (e.isFile() && !e.name.endsWith('.tmp')) out.push(child)
  }
  return out
}

export function directoryDestination (dir: string): Destination {
  const root = path.resolve(dir)
  return {
    name: `directory ${root}`,
    async put (relPath, localFile) {
      const dst = path.join(root, checkRelPath(relPath))
      await mkdir(path.dirname(dst), { recursive: true, mode: 0o700 })
      const tmp = `${dst}.${process.pid}.tmp`
      await copyFile(localFile, tmp)
      await rename(tmp, dst)
    },
    async remove (relPath) {
      await rm(path.join(root, checkRelPath(relPath.replace(/\/$/, ''))), { recursive: true, force: true })
    },
    async list (prefix) {
      const base = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/')) : ''
      if (base !== '') checkRelPath(base)
      const found = await walk(root, base)
      return found.filter(p => p.startsWith(prefix)).sort()
    }
  }
}

export interface BackupStore {
  readonly dir: string
  readonly keys: Keyring
  readonly copy?: Destination
  /** Newest last (by finishedAt). Only finished base backups (those with a manifest); one whose manifest cannot be read is skipped (logged, told to `skipped`). */
  listBases (skipped?: (backupId: string, err: unknown) => void): Promise<Manifest[]>
  readManifest (backupId: string): Promise<Manifest>
  /** Archived segment and history file names, sorted. */
  listWal (): Promise<string[]>
  /** Removes a base backup locally and from the copy. */
  removeBase (backupId: string): Promise<void>
  /** Removes WAL segments of `timeline` (and older timelines) before `segment`, locally and from the copy; returns how many. */
  removeWalBefore (segment: string, timeline: number): Promise<number>
  /** Absolute path of a store file. */
  path (relPath: string): string
  /** Seals `src` into the store under `relPath`, then copies it elsewhere (a `secret` only when encrypted). */
  put (relPath: string, src: string | Readable, opts?: { compress?: boolean, secret?: boolean }): Promise<{ bytes: number, sha256: string }>
  /** Opens a store file (see openFile for the errors). */
  open (relPath: string): Promise<Readable>
  exists (relPath: string): Promise<boolean>
  /** Seals the manifest, which marks the base backup finished; copied elsewhere last. */
  writeManifest (manifest: Manifest): Promise<void>
}

export function walPath (name: string): string {
  if (!WAL_FILE_NAME.test(name)) throw new Error(`not a WAL file name: ${JSON.stringify(name)}`)
  return `wal/${name}.seg`
}

function checkId (id: string): string {
  if (!BACKUP_ID.test(id)) throw new Error(`invalid backup id ${JSON.stringify(id)}`)
  return id
}

export function openStore (opts: { dir: string, keys: Keyring, copy?: Destination, log?: BackupLogger }): BackupStore {
  const dir = path.resolve(opts.dir)
  const { keys, copy, log } = opts
  let ensured: Promise<void> | undefined
  let warnedSecrets = false
  // The store holds the hub's secrets: only the hub's user may enter it.
  const ensure = async () => {
    ensured ??= mkdir(dir, { recursive: true, mode: 0o700 }).then(() => undefined)
    await ensured
  }
  const abs = (relPath: string) => path.join(dir, checkRelPath(relPath))

  const store: BackupStore = {
    dir,
    keys,
    copy,
    path: abs,
    async put (relPath, src, putOpts = {}) {
      await ensure()
      const file = abs(relPath)
      const result = await sealFile(src, file, keys, { compress: putOpts.compress ?? true })
      if (copy !== undefined) {
        if (putOpts.secret === true && keys.current === undefined) {
          if (!warnedSecrets) log?.warn({ destination: copy.name }, 'no HUB_BACKUP_KEY: the hub\'s secrets are not copied elsewhere (they would be in clear)')
          warnedSecrets = true
        } else {
          await copy.put(relPath, file)
        }
      }
      return result
    },
    async open (relPath) {
      return await openFile(abs(relPath), keys)
    },
    async exists (relPath) {
      return await stat(abs(relPath)).then(s => s.isFile(), () => false)
    },
    async writeManifest (manifest) {
      await store.put(`base/${checkId(manifest.id)}/manifest.seal`, Readable.from([Buffer.from(JSON.stringify(manifest))]))
    },
    async readManifest (backupId) {
      const rel = `base/${checkId(backupId)}/manifest.seal`
      const json = await text(await store.open(rel))
      try {
        const manifest = JSON.parse(json) as Manifest
        if (manifest.id !== backupId || !Array.isArray(manifest.files) || !Array.isArray(manifest.directories) || !Array.isArray(manifest.secrets)) throw new Error('not a manifest')
        // Every path is joined to a restore target: relative, no '..', nothing absolute.
        for (const p of [...manifest.files.map(f => f.path), ...manifest.directories]) checkRelPath(p)
        for (const name of manifest.secrets) if (!SECRET_NAME.test(name)) throw new Error(`invalid secret name ${JSON.stringify(name)}`)
        return manifest
      } catch (err) {
        throw new BackupFileError(abs(rel), `not a valid manifest (${(err as Error).message})`, { cause: err })
      }
    },
    async listBases (skipped) {
      const ids = await readdir(path.join(dir, 'base')).catch(() => [] as string[])
      const manifests: Manifest[] = []
      for (const id of ids.filter(i => BACKUP_ID.test(i)).sort()) {
        if (!await store.exists(`base/${id}/manifest.seal`)) continue
        try {
          manifests.push(await store.readManifest(id))
        } catch (err) {
          // One unreadable manifest (a lost key, a damaged file) must not hide every other backup.
          log?.warn({ err, backupId: id }, 'skipping a base backup whose manifest cannot be read')
          skipped?.(id, err)
        }
      }
      return manifests.sort((a, b) => a.finishedAt.localeCompare(b.finishedAt))
    },
    async listWal () {
      const names = await readdir(path.join(dir, 'wal')).catch(() => [] as string[])
      return names.filter(n => n.endsWith('.seg')).map(n => n.slice(0, -4)).filter(n => WAL_FILE_NAME.test(n)).sort()
    },
    async removeBase (backupId) {
      await rm(path.join(dir, 'base', checkId(backupId)), { recursive: true, force: true })
      await copy?.remove(`base/${backupId}`)
    },
    async removeWalBefore (segment, timeline) {
      if (!WAL_SEGMENT_NAME.test(segment)) throw new Error(`not a WAL segment name: ${JSON.stringify(segment)}`)
      const before = segment.slice(8)
      let removed = 0
      for (const name of await store.listWal()) {
        if (name.endsWith('.history')) continue // tiny, and every later restore may need them
        const tli = Number.parseInt(name.slice(0, 8), 16)
        if (tli > timeline || name.slice(8, 24) >= before) continue
        await rm(abs(walPath(name)), { force: true })
        await copy?.remove(walPath(name))
        removed++
      }
      return removed
    }
  }
  return store
}
