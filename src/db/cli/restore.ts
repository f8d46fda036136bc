// `npm run db:restore -- --to <ISO time | backup id | latest> [--target DIR] [--in-place] [--revoke-sessions]`
//
// Builds a data folder from HUB_BACKUP_DIR: the chosen base backup, plus the archived WAL replayed
// to the target (timeline history files included), then runs it once on a throwaway PostgreSQL
// until recovery has ended, so what it prints is what the hub will find.
// - Default: a NEW HUB_DATA_DIR (`--target DIR`, or `<HUB_DATA_DIR>-restored-<time>`) holding the
//   cluster and the secrets saved with the backup; the live cluster is never touched.
// - `--in-place`: replaces HUB_DATA_DIR/postgres, only while the hub is stopped (refused when its
//   postmaster.pid names a live process). Restored into `postgres.restoring-<time>` first and
//   swapped in only once it has promoted (a failure leaves HUB_DATA_DIR as it was). The old folder
//   and passwords are kept aside, renamed `*.before-restore-<time>`; the agent key set in place is kept.
// - `--revoke-sessions`: ends every panel session after the restore (sessions revoked after the
//   restore point come back with it).
import { access, chmod, mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { restoreDataDir, type RestoreTarget } from '../backup/restore.ts'
import { startThrowaway } from '../backup/throwaway.ts'
import { backupSecret } from '../backup/verify.ts'
import { isRunning, runAs } from '../embedded-postgres.ts'
import { sealMissingHistory } from '../backup/wal-file.ts'
import { cliContext, refuse } from './backup-context.ts'

const USAGE = 'usage: npm run db:restore -- --to <ISO time | backup id | latest> [--target DIR] [--in-place] [--revoke-sessions]'
let values: { to?: string, target?: string, 'in-place'?: boolean, 'revoke-sessions'?: boolean }
try {
  values = parseArgs({ options: { to: { type: 'string' }, target: { type: 'string' }, 'in-place': { type: 'boolean' }, 'revoke-sessions': { type: 'boolean' } } }).values
} catch (err) {
  refuse(`db:restore: ${(err as Error).message}\n${USAGE}`)
}
if (values.to === undefined) refuse(`db:restore: --to is required\n${USAGE}`)
if (values['in-place'] === true && values.target !== undefined) refuse('db:restore: --in-place and --target exclude each other')

const { config, store, pgdata: livePgdata, log } = cliContext('db:restore')
const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')

async function parseTarget (to: string): Promise<RestoreTarget> {
  if (to === 'latest') return { kind: 'latest' }
  const ids = (await store.listBases()).map(m => m.id)
  if (ids.includes(to)) return { kind: 'backup', id: to }
  if (/^\d{4}-\d{2}-\d{2}T/.test(to) && !Number.isNaN(Date.parse(to))) {
    // Without a zone, Date.parse reads the machine's local time: say which one is meant.
    if (!/(?:Z|[+-]\d{2}:\d{2})$/.test(to)) refuse(`db:restore: --to ${JSON.stringify(to)} has no time zone: end it with Z (UTC) or ±hh:mm`)
    return { kind: 'time', at: new Date(to) }
  }
  refuse(`db:restore: --to ${JSON.stringify(to)} is neither "latest", an ISO time (2026-12-03T14:05:00Z) nor a backup id in ${store.dir} (${ids.length === 0 ? 'there is none' : ids.join(', ')})`)
}

const exists = async (file: string) => await access(file).then(() => true, () => false)
const to = await parseTarget(values.to)
const inPlace = values['in-place'] === true
const dataDir = inPlace ? path.resolve(config.dataDir) : path.resolve(values.target ?? `${path.resolve(config.dataDir)}-restored-${stamp}`)
const target = path.join(dataDir, 'postgres')

if (inPlace) {
  if (await isRunning(livePgdata)) refuse(`db:restore: the hub's PostgreSQL is running on ${livePgdata} (live postmaster.pid): stop the hub first, or restore into a new folder (--target)`)
} else if (await exists(dataDir) && (await readdir(dataDir)).length > 0) {
  refuse(`db:restore: ${dataDir} is not empty: --target must name a new or empty folder`)
}
const owner = await runAs()
// --in-place restores into a staging folder next to the live one and swaps only once the restored
// cluster has replayed and promoted: a restore that fails (a damaged file, missing WAL, a full
// disk) leaves HUB_DATA_DIR as it was. Were the cluster folder missing, the next `npm start` would
// run initdb, and that new cluster's timeline-1 segments would collide with the store's.
const staging = inPlace ? path.join(dataDir, `postgres.restoring-${stamp}`) : target
const KEPT_ASIDE = ['postgres', 'postgres-wal', 'postgres-password', 'hub-role-password']
const discardStaging = async () => {
  for (const dir of [staging, `${staging}-wal`]) await rm(dir, { recursive: true, force: true })
}
try {
  // The `postgres` user must be able to enter the folder above its cluster.
  await mkdir(dataDir, { recursive: true, mode: 0o755 })
  let restored: Awaited<ReturnType<typeof restoreDataDir>>
  try {
    restored = await restoreDataDir({ store, target: staging, to, owner })
  } catch (err) {
    if (inPlace) await discardStaging()
    throw err
  }
  const { manifest, recovery, walDir } = restored
  const password = await backupSecret(store, manifest.id, 'postgres-password')
  const cluster = await startThrowaway({ pgdata: staging, password })
  let summary: { newestEvent: string | null, sessionsRevoked: number }
  try {
    await cluster.promoted(3_600_000)
    const client = await cluster.connect('hub')
    try {
      const newest = await client.query<{ at: Date | null }>('SELECT max(at) AS at FROM events')
      let sessionsRevoked = 0
      if (values['revoke-sessions'] === true) {
        sessionsRevoked = (await client.query('UPDATE sessions SET revoked_at = now() WHERE revoked_at IS NULL')).rowCount ?? 0
      }
      summary = { newestEvent: newest.rows[0]?.at?.toISOString() ?? null, sessionsRevoked }
    } finally {
      await client.end()
    }
  } catch (err) {
    await cluster.stop()
    if (inPlace) await discardStaging()
    throw err
  } finally {
    await cluster.stop()
  }
  if (inPlace) {
    // The swap: the live files aside, the restored cluster in; put back if a step fails.
    const moved: string[] = []
    try {
      for (const name of KEPT_ASIDE) {
        const file = path.join(dataDir, name)
        if (await exists(file)) {
          await rename(file, `${file}.before-restore-${stamp}`)
          moved.push(file)
        }
      }
      await rename(staging, target)
    } catch (err) {
      for (const file of moved.reverse()) await rename(`${file}.before-restore-${stamp}`, file).catch(() => {})
      throw err
    }
  }
  // The passwords must be those of the restored cluster's roles; the agent key set in place stays.
  for (const name of manifest.secrets) {
    const file = path.join(dataDir, name)
    if (inPlace && await exists(file)) continue
    await writeFile(file, await backupSecret(store, manifest.id, name), { mode: 0o600 })
    await chmod(file, 0o600)
  }
  // Promoted: the staged WAL is no longer read.
  await rm(walDir, { recursive: true, force: true })
  // The throwaway runs with archiving off, so the new timeline's history file is only in pg_wal;
  // every later base backup on this cluster waits for it in the store.
  await sealMissingHistory(store, target, owner)
  const lines = [
    `restored base backup ${manifest.id} (finished ${manifest.finishedAt}, stop LSN ${manifest.stopLsn}) into ${target}`,
    `recovered to: ${recovery}; newest event in the restored log: ${summary.newestEvent ?? 'none'}`,
    values['revoke-sessions'] === true ? `revoked ${summary.sessionsRevoked} sessions: every panel user logs in again` : 'sessions were kept (sessions revoked after the restore point are valid again; --revoke-sessions ends them all)',
    'panels that saw events newer than the restored log get `resync` and reload their view',
    inPlace
      ? `the previous cluster and passwords are kept as *.before-restore-${stamp} in ${dataDir}; start the hub as before: npm start`
      : `start a hub on it: HUB_DATA_DIR=${dataDir} HUB_BACKUP_DIR=${store.dir} npm start   (stop the old hub first if it uses the same port)`
  ]
  process.stdout.write(`${lines.join('\n')}\n`)
} catch (err) {
  log.error({ err }, 'restore failed')
  process.stderr.write(`db:restore: ${(err as Error).message}\n`)
  process.exitCode = 1
}
