// Continuous WAL archiving, in two steps, because PostgreSQL's archive_command runs as the
// database's OS user (`postgres` when the hub runs as root), which cannot run the hub's Node and
// must never hold the hub's secrets (the backup key among them):
//
// 1. archive_command (archiveSettings) is plain shell: it copies the finished segment into the
//    spool folder (to a dot-file, flushed, then renamed, so the spool only ever shows whole
//    segments). A segment already there with the same bytes counts as archived (a retry after a
//    crash between the copy and PostgreSQL noting success); different bytes fail loudly.
// 2. The hub's mover (walArchiver) notices it (fs.watch, with a poll as the fallback, since
//    watching is best effort), seals it (compressed, encrypted when a key is set) into the store's
//    wal/ folder, copies it elsewhere, and only then deletes it from the spool.
//
// So a segment sits in clear in the spool from archive_command until the mover has sealed it:
// normally well under a second; as long as the mover fails (status().failing) otherwise.
import { watch, type FSWatcher } from 'node:fs'
import { readdir, stat, unlink } from 'node:fs/promises'
import path from 'node:path'
import type pg from 'pg'
import { systemIdentifier } from './cluster-facts.ts'
import { UnsafeFileError } from './safe-open.ts'
import { WAL_FILE_NAME, type BackupStore } from './store.ts'
import type { BackupLogger } from './types.ts'
import { storeWal } from './wal-file.ts'

export interface ArchiveStatus {
  lastArchived?: string
  lastArchivedAt?: Date
  /** Segments waiting in the spool. */
  spooled: number
  /** Archiving is failing now: the hub's mover, or PostgreSQL's archive_command (pg_stat_archiver). */
  failing: boolean
  lastError?: string
  /** Age in seconds of the oldest finished segment not yet in the store (waiting in pg_wal or the spool); 0 when none. */
  lagSeconds: number
  /** Spool entries refused (a link, a FIFO, a foreign owner, too large) and deleted since the start. */
  refused: number
}

export interface WalArchiver {
  start (): void
  stop (): Promise<void>
  status (): ArchiveStatus
  /** Moves everything spooled now into the store; rejects when a move fails. */
  flush (): Promise<void>
}

export interface WalArchiverOptions {
  spool: string
  store: BackupStore
  log: BackupLogger
  /** The cluster's data folder: its pg_wal/archive_status tells what PostgreSQL has not archived yet (the lag). */
  pgdata?: string
  /** A superuser connection, opened now and then to read pg_stat_archiver (archive_command failures). */
  superuser?: () => Promise<pg.Client>
  /** Poll of the spool (the fallback to fs.watch, and the retry of failed moves). */
  pollMs?: number
  /** How often pg_stat_archiver is read. */
  statsMs?: number
  /** Segments sealed at once. */
  concurrency?: number
}

/**
 * A path that can go into a shell command in double quotes, inside a setting pg_ctl's -o passes
 * in single quotes (and into postgresql.conf in single quotes), with no `%` for PostgreSQL to expand.
 */
export const SHELL_SAFE_PATH = /^\/[^'"$`\\%\n\r]+$/

/** Extra `-c` settings for the postgres start: wal_level, archive_mode, archive_command, archive_timeout. */
export function archiveSettings (spool: string, archiveTimeoutS: number): string[] {
  const dir = path.resolve(spool)
  if (!SHELL_SAFE_PATH.test(dir)) throw new Error(`the WAL spool path ${JSON.stringify(dir)} may not hold quotes, $, \`, \\ or % (it goes into archive_command); choose another HUB_DATA_DIR`)
  if (!Number.isInteger(archiveTimeoutS) || archiveTimeoutS < 1) throw new Error('archive_timeout must be a positive number of seconds')
  const f = `"${dir}/%f"`
  const tmp = `"${dir}/.%f.tmp"`
  const command = `if test -f ${f}; then cmp -s %p ${f}; else cp %p ${tmp} && sync ${tmp} && mv ${tmp} ${f}; fi`
  return ['wal_level=replica', 'archive_mode=on', `archive_timeout=${archiveTimeoutS}`, `archive_command=${command}`]
}

interface PgArchiverStats { failing: boolean, detail?: string }

export function walArchiver (opts: WalArchiverOptions): WalArchiver {
  const { spool, store, log } = opts
  const pollMs = opts.pollMs ?? 5_000
  const statsMs = opts.statsMs ?? 30_000
  const concurrency = Math.max(1, opts.concurrency ?? 2)
  let watcher: FSWatcher | undefined
  let poll: NodeJS.Timeout | undefined
  let statsTimer: NodeJS.Timeout | undefined
  let running: Promise<void> | undefined
  let again = false
  let stopped = false
  let lastArchived: string | undefined
  let lastArchivedAt: Date | undefined
  let moverError: string | undefined
  let pgStats: PgArchiverStats = { failing: false }
  let spooled = 0
  let oldestWaiting: number | undefined

  const spoolNames = async (): Promise<string[]> => {
    const names = await readdir(spool).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return [] as string[]
      throw err
    })
    return names.filter(n => WAL_FILE_NAME.test(n)).sort()
  }

  /** The oldest mtime among segments PostgreSQL has finished but the store does not hold yet. */
  const measureLag = async (names: string[]): Promise<void> => {
    const times: number[] = []
    for (const n of names) {
      const s = await stat(path.join(spool, n)).catch(() => undefined)
      if (s !== undefined) times.push(s.mtimeMs)
    }
    if (opts.pgdata !== undefined) {
      const statusDir = path.join(opts.pgdata, 'pg_wal', 'archive_status')
      const ready = (await readdir(statusDir).catch(() => [] as string[])).filter(n => n.endsWith('.ready'))
      for (const n of ready) {
        const s = await stat(path.join(statusDir, n)).catch(() => undefined)
        if (s !== undefined) times.push(s.mtimeMs)
      }
    }
    oldestWaiting = times.length === 0 ? undefined : Math.min(...times)
  }

  let refused = 0
  // As root, only files of the spool's owner (the `postgres` user) are taken: see safe-open.ts.
  let spoolOwner: Promise<{ uid: number } | undefined> | undefined
  const owner = async () => {
    spoolOwner ??= process.getuid?.() === 0 ? stat(spool).then(s => ({ uid: s.uid })) : Promise.resolve(undefined)
    return await spoolOwner.catch(err => { spoolOwner = undefined; throw err })
  }

  // The cluster's system identifier, read once: a segment of another cluster is refused.
  let sysid: string | undefined
  const identify = async (): Promise<string | undefined> => {
    if (sysid !== undefined || opts.superuser === undefined) return sysid
    const client = await opts.superuser().catch(() => undefined)
    if (client === undefined) return undefined // the cluster is down (a flush after stop): no check
    try {
      sysid = await systemIdentifier(client)
    } catch {
      // Checked on a later pass.
    } finally {
      await client.end().catch(() => {})
    }
    return sysid
  }

  const moveOne = async (name: string): Promise<void> => {
    const file = path.join(spool, name)
    try {
      await storeWal(store, name, file, await owner(), await identify())
    } catch (err) {
      if (!(err instanceof UnsafeFileError)) throw err
      // Not a segment archive_command wrote: deleting the entry (never what it points at) lets
      // PostgreSQL's next attempt write the real one; the pass still counts as failing.
      refused++
      await unlink(file).catch(() => {})
      throw err
    }
    await unlink(file)
    lastArchived = name
    lastArchivedAt = new Date()
  }

  /** One pass: moves everything in the spool, `concurrency` at a time; stops at the first failure. */
  const pass = async (): Promise<void> => {
    const names = await spoolNames()
    spooled = names.length
    let next = 0
    let failure: unknown
    const worker = async () => {
      while (failure === undefined && next < names.length) {
        const name = names[next++] as string
        try {
          await moveOne(name)
          spooled = Math.max(0, spooled - 1)
        } catch (err) {
          failure ??= err
        }
      }
    }
    await Promise.all(Array.from({ length: Math.min(concurrency, names.length) }, worker))
    await measureLag(await spoolNames()).catch(() => {})
    if (failure !== undefined) {
      const message = failure instanceof Error ? failure.message : String(failure)
      if (message !== moverError) log.error({ err: failure, spool, spooled }, 'WAL archiving: moving a segment into the backup store failed (will retry)')
      moverError = message
      throw failure
    }
    if (moverError !== undefined) log.info({ lastArchived }, 'WAL archiving recovered')
    moverError = undefined
  }

  /** Single flight: a request during a pass runs one more pass after it. */
  const run = (): Promise<void> => {
    if (running !== undefined) {
      again = true
      return running
    }
    running = (async () => {
      try {
        do {
          again = false
          await pass()
        } while (again && !isStopped())
      } finally {
        running = undefined
      }
    })()
    return running
  }
  const kick = () => { run().catch(() => {}) }
  const isStopped = () => stopped

  const readStats = async (): Promise<void> => {
    if (opts.superuser === undefined) return
    let client: pg.Client | undefined
    try {
      client = await opts.superuser()
      const { rows } = await client.query<{ failed_count: string, last_failed_wal: string | null, last_failed_time: Date | null, last_archived_time: Date | null }>(
        'SELECT failed_count, last_failed_wal, last_failed_time, last_archived_time FROM pg_stat_archiver')
      const row = rows[0]
      const failedLast = row?.last_failed_time != null &&
        (row.last_archived_time === null || row.last_failed_time > row.last_archived_time)
      pgStats = failedLast
        ? { failing: true, detail: `archive_command failed ${row.failed_count} times, last for ${row.last_failed_wal ?? '?'} at ${row.last_failed_time?.toISOString() ?? '?'} (see the PostgreSQL log)` }
        : { failing: false }
    } catch (err) {
      log.warn({ err }, 'WAL archiving: cannot read pg_stat_archiver')
    } finally {
      await client?.end().catch(() => {})
    }
  }

  return {
    start () {
      stopped = false
      try {
        watcher = watch(spool, { persistent: false }, () => kick())
        watcher.on('error', err => {
          log.warn({ err, spool }, 'WAL spool watch failed; polling only')
          watcher?.close()
          watcher = undefined
        })
      } catch (err) {
        log.warn({ err, spool }, 'cannot watch the WAL spool; polling only')
      }
      poll = setInterval(kick, pollMs)
      poll.unref()
      if (opts.superuser !== undefined) {
        statsTimer = setInterval(() => { readStats().catch(() => {}) }, statsMs)
        statsTimer.unref()
        readStats().catch(() => {})
      }
      kick()
    },
    async stop () {
      stopped = true
      watcher?.close()
      watcher = undefined
      clearInterval(poll)
      clearInterval(statsTimer)
      await running?.catch(() => {})
    },
    status () {
      const lastError = moverError ?? pgStats.detail
      return {
        ...(lastArchived === undefined ? {} : { lastArchived }),
        ...(lastArchivedAt === undefined ? {} : { lastArchivedAt }),
        spooled,
        failing: moverError !== undefined || pgStats.failing,
        ...(lastError === undefined ? {} : { lastError }),
        lagSeconds: oldestWaiting === undefined ? 0 : Math.max(0, (Date.now() - oldestWaiting) / 1000),
        refused
      }
    },
    async flush () {
      // Not pg_stat_archiver: the hub flushes after the database has stopped.
      await running?.catch(() => {})
      await run()
    }
  }
}
