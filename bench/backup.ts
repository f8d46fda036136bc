// Backups: RPO and RTO of the embedded cluster (issue 14 item 10; docs/operations.md "RPO and RTO").
//   RPO: WAL archive lag (hub_backup_archive_lag_seconds, the archiver's status()) sampled every
//        0.5 s while the hub's status-ingest SQL writes STATUSES statuses/s (batches of BATCH, each
//        one transaction: lock the servers, insert the transitions, move the servers, append the
//        events: the statements and WAL of group-committed ingest, without the WebSocket part).
//   RTO: a base backup of a database holding TRANSITIONS status transitions, then the restore
//        (`npm run db:restore -- --to latest` into a new folder, a child process, as an operator
//        runs it: files decrypted and checked, WAL replayed, promoted); plus backup and
//        verification times.
// One process runs the hub (startHub: embedded PostgreSQL with archiving, the store, the
// archiver) and the writer; the restore is a child process. Writes bench/results/backup.md.
//
// Usage: node bench/backup.ts [--seconds 30] [--statuses 5000] [--batch 100] [--servers 5000] [--transitions 1000000]
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { parseArgs, promisify } from 'node:util'
import { inBatchTransaction } from '../src/db/sql/transaction.ts'
import { byId, lockServersSql, writeTransitionsSql, type ServerRow, type TransitionRow } from '../src/db/sql/status-batch.ts'
import { loadConfig } from '../src/hub/config.ts'
import { startHub } from '../src/hub/start-hub.ts'
import { ADMIN_PASSWORD } from './lib/fixture.ts'
import { machineFacts } from './lib/machine.ts'
import { int, percentiles, sleep } from './lib/report.ts'

const run = promisify(execFile)
const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '30' },
    statuses: { type: 'string', default: '5000' },
    batch: { type: 'string', default: '100' },
    servers: { type: 'string', default: '5000' },
    transitions: { type: 'string', default: '1000000' }
  }
})
const SECONDS = Number(args.seconds)
const RATE = Number(args.statuses)
const BATCH = Number(args.batch)
const SERVERS = Number(args.servers)
const TRANSITIONS = Number(args.transitions)
const root = path.resolve(import.meta.dirname, '..')
const command = `node bench/backup.ts ${process.argv.slice(2).join(' ')}`.trim()

const dir = await mkdtemp(path.join(tmpdir(), 'hub-bench-backup-'))
await chmod(dir, 0o755)
const env: Record<string, string> = {
  NODE_ENV: 'test',
  LOG_LEVEL: 'warn',
  HUB_DATA_DIR: path.join(dir, 'data'),
  HUB_PORT: '0',
  HUB_ADMIN_PASSWORD: ADMIN_PASSWORD,
  HUB_BACKUP_KEY: randomBytes(32).toString('base64'), // encrypted, as in production
  HUB_BACKUP_SCHEDULE: '0 3 1 1 *',
  HUB_PRUNE_CRON: '0 0 1 1 *',
  HUB_DB_STATEMENT_TIMEOUT_MS: '0' // the bulk INSERT of the RTO part runs longer than the default 15 s
}
const hub = await startHub(loadConfig(env))
const { app } = hub
const pool = app.db.pool
try {
  const pgdata = path.join(env.HUB_DATA_DIR as string, 'postgres')
  const port = Number((await readFile(path.join(pgdata, 'postmaster.pid'), 'utf8')).split('\n')[3])
  const facts = await machineFacts(`postgresql://postgres:${encodeURIComponent(await readFile(path.join(env.HUB_DATA_DIR as string, 'postgres-password'), 'utf8'))}@127.0.0.1:${port}/hub`)

  // The world: SERVERS servers on SERVERS / 5 nodes.
  const { rows: [ref] } = await pool.query<{ alt: string, owner: string }>("SELECT (SELECT id FROM alts LIMIT 1) AS alt, (SELECT id FROM users WHERE username = 'admin') AS owner")
  await pool.query("INSERT INTO nodes (name, updated_at) SELECT 'bench-' || i, now() FROM generate_series(1, $1::int) i", [Math.ceil(SERVERS / 5)])
  await pool.query(`INSERT INTO servers (name, port, node_id, alt_id, owner_id, updated_at)
    SELECT n.name || '-' || j, 27000 + j, n.id, $1, $2, now() FROM nodes n, generate_series(0, 4) j`, [ref?.alt, ref?.owner])
  const { rows: servers } = await pool.query<{ id: string, node_id: string }>('SELECT id, node_id FROM servers')
  const nodeOf = new Map(servers.map(s => [s.id, s.node_id]))
  const cycle = ['STARTING', 'RUNNING', 'STOPPING', 'STOPPED']
  const seqs = new Map<string, number>()
  let cursor = 0

  // --- RPO: archive lag under RATE statuses/s ---
  const writeBatch = async () => {
    const picked = Array.from({ length: BATCH }, () => servers[cursor++ % servers.length] as { id: string, node_id: string })
    await inBatchTransaction<ServerRow, void>(pool, lockServersSql([...new Set(picked.map(s => s.id))]), (locked, tx) => {
      const stored = byId(locked)
      const rows: TransitionRow[] = []
      const finals = new Map<string, TransitionRow>()
      for (const s of picked) {
        const seq = (seqs.get(s.id) ?? 0) + 1
        seqs.set(s.id, seq)
        const from = finals.get(s.id)?.to ?? stored.get(s.id)?.status ?? 'STOPPED'
        const row = { serverId: s.id, from, to: cycle[seq % 4] as string, seq, reason: null, at: new Date() }
        rows.push(row)
        finals.set(s.id, row)
      }
      tx.atCommit(writeTransitionsSql(rows, finals))
      tx.emit(rows.map(r => ({ kind: 'server.status', serverId: r.serverId, nodeId: nodeOf.get(r.serverId) ?? null, data: { serverId: r.serverId, from: r.from, to: r.to, seq: r.seq }, at: r.at })))
    })
  }
  const lags: number[] = []
  let maxSpooled = 0
  let failing = false
  let written = 0
  const started = Date.now()
  const sampler = setInterval(() => {
    const a = app.backups.status().archive
    if (a === undefined) return
    lags.push(a.lagSeconds)
    maxSpooled = Math.max(maxSpooled, a.spooled)
    failing ||= a.failing
  }, 500)
  const interval = 1000 * BATCH / RATE
  const inflight = new Set<Promise<void>>()
  for (let next = started; Date.now() - started < SECONDS * 1000; next += interval) {
    const wait = next - Date.now()
    if (wait > 0) await sleep(wait)
    if (inflight.size >= 8) await Promise.race(inflight) // bounded: never more than 8 batches in flight
    const p = writeBatch().then(() => { written += BATCH }).finally(() => inflight.delete(p))
    inflight.add(p)
  }
  await Promise.all(inflight)
  const elapsed = (Date.now() - started) / 1000
  const { rows: [walPos] } = await pool.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')
  clearInterval(sampler)
  const lag = percentiles(lags)
  process.stderr.write(`RPO part done: ${written} statuses in ${elapsed.toFixed(1)} s, lag max ${lag.max.toFixed(2)} s\n`)
  const walSegments = app.backups.status().archive?.lastArchived ?? '?'

  // --- RTO: backup and restore of a database with TRANSITIONS transitions ---
  const have = Number((await pool.query<{ n: string }>('SELECT count(*) AS n FROM server_status_transitions')).rows[0]?.n)
  const add = Math.max(0, TRANSITIONS - have)
  const fillStart = Date.now()
  for (let done = 0; done < add; done += 100_000) {
    await pool.query(`INSERT INTO server_status_transitions (server_id, from_status, to_status, seq, at)
      SELECT a.ids[1 + g % array_length(a.ids, 1)], 'RUNNING', 'STOPPING', g, now()
      FROM (SELECT array_agg(id) AS ids FROM servers) a, generate_series(1, $1::int) g`, [Math.min(100_000, add - done)])
  }
  const fillS = (Date.now() - fillStart) / 1000
  process.stderr.write(`${add} transitions added in ${fillS.toFixed(1)} s; backing up\n`)
  const { rows: [size] } = await pool.query<{ db: string, n: string }>("SELECT pg_size_pretty(pg_database_size('hub')) AS db, (SELECT count(*) FROM server_status_transitions)::text AS n")
  const backupStart = Date.now()
  const row = await app.backups.start()
  await app.backups.idle()
  const done = await app.backups.repo.find(row.id)
  const cycleS = (Date.now() - backupStart) / 1000
  const backupS = done?.finishedAt == null ? NaN : (done.finishedAt.getTime() - done.startedAt.getTime()) / 1000
  process.stderr.write(`backup cycle ${cycleS.toFixed(1)} s (verified: ${String(done?.verifyOk)}); restoring\n`)
  const target = path.join(dir, 'restored')
  const restoreStart = Date.now()
  const restored = await run(process.execPath, ['src/db/cli/restore.ts', '--to', 'latest', '--target', target], { cwd: root, env: { ...process.env, ...env }, timeout: 3_600_000 })
  const restoreS = (Date.now() - restoreStart) / 1000

  const report = `# Backups: RPO and RTO

Measured ${new Date().toISOString()} on ${facts}.
**The writer, the hub, PostgreSQL and the restore share these 2 cores on a shared machine** where
other engineers were running tests and builds at the same time: treat the figures as a first
measurement that the lead re-runs on a quiet machine.

Command: \`${command}\` (encrypted backups: \`HUB_BACKUP_KEY\` set; \`archive_timeout\` 60 s, the default).

## RPO: WAL archive lag while ${int(RATE)} statuses/s are written

The hub's status-ingest statements (lock the servers, insert transitions, move the servers,
append the events), ${BATCH} statuses per transaction, paced at ${int(RATE)}/s over ${int(SERVERS)} servers
for ${SECONDS} s, from inside the hub process (no WebSocket part). Lag = age of the oldest finished
WAL segment not yet sealed into \`HUB_BACKUP_DIR\` (\`hub_backup_archive_lag_seconds\`), sampled every 0.5 s.

| | |
| --- | --- |
| statuses written | ${int(written)} in ${elapsed.toFixed(1)} s (${int(written / elapsed)}/s) |
| WAL written (to LSN) | ${walPos?.lsn ?? '?'} (16 MB segments; last archived ${walSegments}) |
| archive lag p50 / p99 / max | ${lag.p50.toFixed(2)} s / ${lag.p99.toFixed(2)} s / ${lag.max.toFixed(2)} s (${lag.n} samples) |
| segments waiting in the spool, max | ${maxSpooled} |
| archiving failed at any sample | ${failing ? 'yes' : 'no'} |

${written / elapsed < 0.95 * RATE ? `**The writer reached only ${int(written / elapsed)} statuses/s of the ${int(RATE)} asked** (at most 8 transactions in flight, on the shared cores): re-run on a quiet machine to measure the lag at the full rate.\n\n` : ''}RPO under this load = archive lag (a segment fills in seconds, so \`archive_timeout\` does not
apply); when idle, at most \`HUB_BACKUP_ARCHIVE_TIMEOUT_S\` (60 s) plus the lag.

## RTO: restore of a database with ${int(TRANSITIONS)} transitions

| | |
| --- | --- |
| database | ${size?.db ?? '?'}, ${int(Number(size?.n))} transitions (${int(add)} added by INSERT in ${fillS.toFixed(1)} s) |
| base backup (\`pg_backup_start\` → files sealed → \`pg_backup_stop\`) | ${backupS.toFixed(1)} s, ${int(Number(done?.sizeBytes ?? 0) / 2 ** 20)} MiB of data files |
| whole cycle (backup + retention + verification by restore) | ${cycleS.toFixed(1)} s; verified: ${String(done?.verifyOk)} (${done?.verifyDetail ?? ''}) |
| **restore** (\`npm run db:restore -- --to latest --target DIR\`: decrypt + check every file, stage WAL, replay, promote, stop) | **${restoreS.toFixed(1)} s** |

RTO = the restore above plus a hub start on the restored folder (\`bench/results/startup.md\`).

Restore output:

\`\`\`
${restored.stdout.trim()}
\`\`\`
`
  await writeFile(path.join(root, 'bench/results/backup.md'), report)
  process.stdout.write(report)
} finally {
  await hub.close()
  await rm(dir, { recursive: true, force: true })
}
