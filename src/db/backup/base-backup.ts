// Base backups of the embedded cluster while it runs, with PostgreSQL's non-exclusive low-level
// API (the embedded binaries have no pg_basebackup): pg_backup_start on one superuser connection,
// which must stay open until pg_backup_stop (closing it aborts the backup); copy the data folder
// while PostgreSQL keeps writing (the WAL from the start to the stop point repairs every torn
// page); then write the backup_label that pg_backup_stop returns into the copy, since a restore
// without it would start from the wrong checkpoint. The backup is only usable with the WAL up to
// its stop point, so it is declared finished (its manifest written) only when that segment is in
// the store.
import { randomBytes } from 'node:crypto'
import { readdir, stat } from 'node:fs/promises'
import path from 'node:path'
import { Readable } from 'node:stream'
import type pg from 'pg'
import { appliedMigrations, systemIdentifier } from './cluster-facts.ts'
import { openChecked } from './safe-open.ts'
import { walPath, type BackupStore } from './store.ts'
import type { BackupLogger, Manifest, ManifestFile } from './types.ts'
import { sealMissingHistory } from './wal-file.ts'
import { eachLimited } from './each-limited.ts'

/** Folders whose contents PostgreSQL's documentation says to leave out of a base backup (kept, empty). */
const EMPTY_DIRS = new Set(['pg_wal', 'pg_replslot', 'pg_dynshmem', 'pg_notify', 'pg_serial', 'pg_snapshots', 'pg_stat_tmp', 'pg_subtrans'])
/** Files at the top of PGDATA never copied: the running server's, the backup's own, the embedded cluster's log. */
const SKIP_TOP_FILES = new Set(['postmaster.pid', 'postmaster.opts', 'backup_label', 'backup_label.old', 'tablespace_map', 'tablespace_map.old',
  'backup_manifest', 'recovery.signal', 'standby.signal', 'server.log', 'current_logfiles'])

/** Settings a standby or a recovering server needs at least as high as the primary's. */
const RECOVERY_SETTINGS = ['max_connections', 'max_worker_processes', 'max_wal_senders', 'max_prepared_transactions', 'max_locks_per_transaction']

/** A new backup id: sortable by time, e.g. 20261203T134400Z-3fa9. */
export function newBackupId (now = new Date()): string {
  return `${now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${randomBytes(2).toString('hex')}`
}

function skipped (name: string): boolean {
  return name.startsWith('pgsql_tmp') || name === 'pg_internal.init'
}

/** Files and folders of PGDATA to copy, relative, '/'-separated. */
async function listDataFolder (pgdata: string): Promise<{ files: string[], directories: string[] }> {
  const files: string[] = []
  const directories: string[] = []
  const visit = async (rel: string): Promise<void> => {
    const entries = await readdir(path.join(pgdata, rel), { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' && rel !== '') return [] // a folder dropped while we copy (a database, a relation's segment)
      throw err
    })
    for (const e of entries) {
      const child = rel === '' ? e.name : `${rel}/${e.name}`
      if (skipped(e.name)) continue
      if (rel === '' && EMPTY_DIRS.has(e.name)) {
        directories.push(child)
        if (e.name === 'pg_wal') {
          const subs = await readdir(path.join(pgdata, 'pg_wal'), { withFileTypes: true })
          for (const s of subs) if (s.isDirectory()) directories.push(`pg_wal/${s.name}`)
        }
        continue
      }
      if (e.isDirectory()) {
        directories.push(child)
        await visit(child)
      } else if (e.isFile()) {
        if (rel === '' && SKIP_TOP_FILES.has(e.name)) continue
        files.push(child)
      } else if (e.isSymbolicLink()) {
        throw new Error(`${child} is a symbolic link (a tablespace?): base backups of the embedded cluster support neither tablespaces nor links in the data folder`)
      }
    }
  }
  await visit('')
  return { files, directories }
}

function parseLabel (label: string): { startWal: string, timeline: number } {
  const start = /^START WAL LOCATION: [0-9A-F]+\/[0-9A-F]+ \(file ([0-9A-F]{24})\)$/m.exec(label)
  const tli = /^START TIMELINE: (\d+)$/m.exec(label)
  if (start?.[1] === undefined || tli?.[1] === undefined) throw new Error(`unexpected backup_label from pg_backup_stop:\n${label}`)
  return { startWal: start[1], timeline: Number(tli[1]) }
}

async function waitForWal (store: BackupStore, names: string[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const missing: string[] = []
    for (const n of names) if (!await store.exists(walPath(n))) missing.push(n)
    if (missing.length === 0) return
    if (Date.now() > deadline) {
      throw new Error(`WAL ${missing.join(', ')} did not reach the backup store within ${Math.round(timeoutMs / 1000)} s: is WAL archiving on (HUB_BACKUP_ARCHIVE) and working? A base backup is useless without the WAL up to its stop point`)
    }
    await new Promise(resolve => setTimeout(resolve, 200))
  }
}

export async function takeBaseBackup (opts: {
  superuser: () => Promise<pg.Client>
  pgdata: string
  store: BackupStore
  secrets: Array<{ name: string, file: string }>
  log?: BackupLogger
  /** How long to wait for the stop point's WAL segment to reach the store (default 120 s). */
  walTimeoutMs?: number
  /** Files sealed at once (default 2). */
  concurrency?: number
}): Promise<Manifest> {
  const { store, pgdata, log } = opts
  const startedAt = new Date()
  const id = newBackupId(startedAt)
  const base = `base/${id}`
  // As root, every file copied must belong to the data folder's owner (the `postgres` user), be a
  // regular file with one link, and is read from the descriptor checked (safe-open.ts): a
  // relation file swapped for a link after the listing is refused, not followed.
  const owner = process.getuid?.() === 0 ? { uid: (await stat(pgdata)).uid } : undefined
  const client = await opts.superuser()
  try {
    const version = (await client.query<{ server_version: string }>('SHOW server_version')).rows[0]?.server_version ?? '?'
    const sysid = await systemIdentifier(client)
    const hasLedger = (await client.query<{ t: string | null }>("SELECT to_regclass('public._prisma_migrations')::text AS t")).rows[0]?.t != null
    const migrations = hasLedger ? await appliedMigrations(client) : []
    const settings = Object.fromEntries((await client.query<{ name: string, setting: string }>(
      'SELECT name, setting FROM pg_settings WHERE name = ANY($1) ORDER BY name', [RECOVERY_SETTINGS])).rows.map(r => [r.name, r.setting]))
    // Fast: an immediate checkpoint rather than a spread one, so the backup starts now.
    const startLsn = (await client.query<{ lsn: string }>('SELECT pg_backup_start($1, true)::text AS lsn', [`hub ${id}`])).rows[0]?.lsn as string
    log?.info({ id, startLsn }, 'base backup started')

    const { files: paths, directories } = await listDataFolder(pgdata)
    const files: ManifestFile[] = []
    await eachLimited(paths, opts.concurrency ?? 2, async rel => {
      try {
        const fh = await openChecked(path.join(pgdata, rel), { uid: owner?.uid })
        try {
          const { bytes, sha256 } = await store.put(`${base}/files/${rel}.seg`, fh.createReadStream())
          files.push({ path: rel, size: bytes, sha256 })
        } finally {
          await fh.close() // already closed by the stream when it was read to the end
        }
      } catch (err) {
        // A file removed after the listing (a dropped table): replaying the WAL removes it too.
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
      }
    })

    // wait_for_archive => false: the wait below covers the store, with a timeout of ours.
    const stop = (await client.query<{ lsn: string, labelfile: string, spcmapfile: string | null }>(
      'SELECT lsn::text AS lsn, labelfile, spcmapfile FROM pg_backup_stop(false)')).rows[0]
    if (stop === undefined) throw new Error('pg_backup_stop returned nothing')
    const stopWal = (await client.query<{ name: string }>('SELECT pg_walfile_name($1::pg_lsn) AS name', [stop.lsn])).rows[0]?.name as string
    for (const [name, text] of [['backup_label', stop.labelfile], ['tablespace_map', stop.spcmapfile ?? '']] as const) {
      if (text === '') continue
      const { bytes, sha256 } = await store.put(`${base}/files/${name}.seg`, Readable.from([Buffer.from(text)]))
      files.push({ path: name, size: bytes, sha256 })
    }
    const { startWal, timeline } = parseLabel(stop.labelfile)
    const history = `${timeline.toString(16).toUpperCase().padStart(8, '0')}.history`
    const needed = [stopWal, ...(timeline > 1 ? [history] : [])]
    if (timeline > 1 && !await store.exists(walPath(history))) {
      // A cluster promoted with archiving off (a restore done by hand, or by an older db:restore)
      // never archived its timeline's history file: seal it from pg_wal rather than wait in vain.
      const sealed = await sealMissingHistory(store, pgdata, owner)
      if (sealed.length > 0) log?.warn({ id, sealed }, 'timeline history files missing from the store were sealed from pg_wal')
    }
    await waitForWal(store, needed, opts.walTimeoutMs ?? 120_000)

    const secrets: string[] = []
    for (const s of opts.secrets) {
      try {
        await store.put(`${base}/secrets/${s.name}.seg`, s.file, { secret: true })
        secrets.push(s.name)
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
      }
    }
    const manifest: Manifest = {
      id,
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      timeline,
      startLsn,
      stopLsn: stop.lsn,
      startWal,
      stopWal,
      pgVersion: version,
      ...(sysid === undefined ? {} : { systemIdentifier: sysid }),
      encrypted: store.keys.current !== undefined,
      ...(store.keys.current === undefined ? {} : { keyId: store.keys.current.id }),
      files: files.sort((a, b) => a.path.localeCompare(b.path)),
      directories: directories.sort(),
      secrets,
      settings,
      migrations
    }
    await store.writeManifest(manifest)
    log?.info({ id, files: files.length, bytes: files.reduce((n, f) => n + f.size, 0), stopLsn: stop.lsn }, 'base backup finished')
    return manifest
  } catch (err) {
    await store.removeBase(id).catch(() => {})
    throw err
  } finally {
    // Ending the session also aborts a backup still in progress (non-exclusive mode).
    await client.end().catch(() => {})
  }
}
