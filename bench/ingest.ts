// Status ingest under load: 1,000 connected agents (the simulator's agent client, 5 servers
// each) against one hub process, measured twice in the same run: with the hub's group-committed
// ingest as configured by default, and with a naive one-transaction-per-report ingest (maxBatch 1,
// one lane per pool connection) as the baseline.
//   (i)  max sustained durable transitions/s: every server keeps WINDOW statuses in flight and
//        sends the next legal one on each ack; acks/s over a steady window (after a warm-up),
//        cross-checked against rows written.
//   (ii) status -> status.ack latency at a fixed RATE transitions/s (open loop).
// The load generators, the hub and PostgreSQL share the machine (2 cores here): CPU seconds of
// each are reported so the bottleneck is visible. Writes bench/results/ingest.md.
//
// Usage: node bench/ingest.ts [--agents 1000] [--servers 5] [--workers 2] [--window 2]
//        [--seconds 15] [--rate 5000] [--only group|naive]
import { writeFile } from 'node:fs/promises'
import path from 'node:path'
import { parseArgs } from 'node:util'
import pg from 'pg'
import { createFixture, ISSUER, split } from './lib/fixture.ts'
import { cpuSeconds, machineFacts, postgresPids } from './lib/machine.ts'
import { int, ms, percentiles, showCounts, sleep, sumCounts } from './lib/report.ts'
import { spawnChild } from './lib/rpc.ts'

const { values: args } = parseArgs({
  options: {
    agents: { type: 'string', default: '1000' },
    servers: { type: 'string', default: '5' },
    workers: { type: 'string', default: '2' },
    window: { type: 'string', default: '2' },
    seconds: { type: 'string', default: '15' },
    warmup: { type: 'string', default: '5' },
    rate: { type: 'string', default: '5000' },
    pool: { type: 'string', default: '10' },
    only: { type: 'string' }
  }
})
const AGENTS = Number(args.agents)
const SERVERS = Number(args.servers)
const WORKERS = Number(args.workers)
const WINDOW = Number(args.window)
const SECONDS = Number(args.seconds)
const WARMUP = Number(args.warmup)
const RATE = Number(args.rate)
const POOL = Number(args.pool)
const root = path.resolve(import.meta.dirname, '..')
const command = `node bench/ingest.ts ${process.argv.slice(2).join(' ')}`.trim()

const VARIANTS = [
  { key: 'group', name: 'group commit (hub default)', ingest: undefined },
  { key: 'naive', name: 'naive: one transaction per report', ingest: { maxBatch: 1, lanes: POOL } }
].filter(v => args.only === undefined || v.key === args.only)

const log = (msg: string) => process.stderr.write(`[ingest] ${msg}\n`)

log(`creating ${AGENTS} nodes × ${SERVERS} servers`)
const fixture = await createFixture(AGENTS, SERVERS)
const facts = await machineFacts(fixture.databaseUrl)
const db = new pg.Client({ connectionString: fixture.databaseUrl })
await db.connect()
const dbStats = async () => {
  const { rows: [r] } = await db.query<{ rows: string, commits: string }>(
    'SELECT (SELECT count(*) FROM server_status_transitions) AS rows, (SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()) AS commits')
  return { rows: Number(r?.rows), commits: Number(r?.commits) }
}
const pgCpu = async () => await cpuSeconds(await postgresPids(fixture.postmasterPid))

type Stats = ReturnType<typeof percentiles>
interface Result {
  name: string
  throughput: { acksPerS: number, rowsPerS: number, commitsPerS: number, rowsPerCommit: number, errors: Record<string, number>, cpu: { hub: number, pg: number, gen: number }, latency: Stats, holds: Stats }
  fixed: { achievedPerS: number, skipped: number, errors: Record<string, number>, latency: Stats, cpu: { hub: number, pg: number, gen: number }, holds: Stats }
  closes: Record<string, number>
  hubLogged: Record<string, number>
}
const results: Result[] = []

try {
  for (const variant of VARIANTS) {
    log(`${variant.name}: starting hub`)
    const hub = spawnChild<{ url: string, pid: number }>(path.join(import.meta.dirname, 'lib/hub-process.ts'), {
      BENCH_HUB: JSON.stringify({
        env: { DATABASE_URL: fixture.databaseUrl, HUB_AGENT_KEYS: fixture.agentKeys, HUB_ISSUER: ISSUER, HUB_DB_POOL_MAX: String(POOL) },
        ingest: variant.ingest
      })
    })
    const workers = split(fixture.agents, WORKERS).map(() => spawnChild(path.join(import.meta.dirname, 'lib/agent-worker.ts'), {}))
    try {
      const { url } = await hub.ready
      await Promise.all(workers.map(async w => await w.ready))
      const slices = split(fixture.agents, WORKERS)
      await Promise.all(workers.map(async (w, i) => await w.call('setup', { url, agents: slices[i] })))
      const connected = await Promise.all(workers.map(async w => await w.call('connect', {})))
      log(`${variant.name}: ${connected.reduce((n, c) => n + c.connected, 0)} agents connected in ${Math.round(Math.max(...connected.map(c => c.ms)))} ms`)

      // Measures one window: what every process did between two marks.
      const measure = async (seconds: number, record: boolean) => {
        const marks = await Promise.all(workers.map(async w => await w.call('mark', { record })))
        await hub.call('holds')
        const hub0 = (await hub.call('stats')).cpuSeconds as number
        const pg0 = await pgCpu()
        const db0 = await dbStats()
        const t0 = performance.now()
        await sleep(seconds * 1000)
        const reads = await Promise.all(workers.map(async w => await w.call('read', { samples: true })))
        const elapsed = (performance.now() - t0) / 1000
        const holds = percentiles(await hub.call('holds'))
        const db1 = await dbStats()
        const hub1 = (await hub.call('stats')).cpuSeconds as number
        const pg1 = await pgCpu()
        const gen = reads.reduce((n, r, i) => n + r.cpuSeconds - marks[i].cpuSeconds, 0)
        return {
          elapsed,
          acks: reads.reduce((n, r) => n + r.acks, 0),
          skipped: reads.reduce((n, r) => n + r.skipped, 0),
          errors: sumCounts(reads.map(r => r.errors)),
          rows: db1.rows - db0.rows,
          commits: db1.commits - db0.commits,
          latency: percentiles(reads.flatMap(r => r.samples as number[])),
          holds,
          cpu: { hub: (hub1 - hub0) / elapsed, pg: (pg1 - pg0) / elapsed, gen: gen / elapsed }
        }
      }

      log(`${variant.name}: max throughput, window ${WINDOW} per server, ${WARMUP} s warm-up + ${SECONDS} s`)
      await Promise.all(workers.map(async w => await w.call('window', { window: WINDOW })))
      await sleep(WARMUP * 1000)
      const tp = await measure(SECONDS, true)
      await Promise.all(workers.map(async w => await w.call('stop', {}, 90_000)))
      log(`${variant.name}: ${int(tp.acks / tp.elapsed)} acks/s, ${int(tp.rows / tp.elapsed)} rows/s`)

      log(`${variant.name}: fixed rate ${RATE}/s, ${Math.min(WARMUP, 3)} s warm-up + ${SECONDS} s`)
      await Promise.all(workers.map(async w => await w.call('rate', { perSecond: RATE / WORKERS })))
      await sleep(Math.min(WARMUP, 3) * 1000)
      const fixed = await measure(SECONDS, true)
      // No drain here: a baseline that cannot keep up has a long queue, and this hub is done.
      await Promise.all(workers.map(async w => await w.call('halt')))
      log(`${variant.name}: p99 ${ms(fixed.latency.p99)} at ${int(fixed.acks / fixed.elapsed)}/s`)

      const final = await Promise.all(workers.map(async w => await w.call('read', {})))
      results.push({
        name: variant.name,
        throughput: {
          acksPerS: tp.acks / tp.elapsed,
          rowsPerS: tp.rows / tp.elapsed,
          commitsPerS: tp.commits / tp.elapsed,
          rowsPerCommit: tp.rows / Math.max(1, tp.commits),
          errors: tp.errors,
          cpu: tp.cpu,
          latency: tp.latency,
          holds: tp.holds
        },
        fixed: { achievedPerS: fixed.acks / fixed.elapsed, skipped: fixed.skipped, errors: fixed.errors, latency: fixed.latency, cpu: fixed.cpu, holds: fixed.holds },
        closes: sumCounts(final.map(r => r.closes)),
        hubLogged: (await hub.call('stats')).logged
      })
      await Promise.all(workers.map(async w => await w.call('close')))
      // A baseline that fell behind still drains its queue on close and may outlast Fastify's
      // plugin timeout; the measurements are taken, so the process is simply ended below.
      await hub.call('close').catch((err: Error) => { log(`${variant.name}: hub close failed (${err.message.split('\n')[0]}); ending it`) })
    } finally {
      await Promise.all(workers.map(async w => await w.stop()))
      await hub.stop()
    }
  }
} finally {
  await db.end()
  await fixture.close()
}

const cpuText = (c: { hub: number, pg: number, gen: number }) => `hub ${c.hub.toFixed(2)}, PostgreSQL ${c.pg.toFixed(2)}, generators ${c.gen.toFixed(2)}`
const holdText = (h: Stats) => `${ms(h.p50)} / ${ms(h.p99)} / ${ms(h.max)} (${int(h.n)} checkouts)`
const group = results.find(r => r.name.startsWith('group'))
const naive = results.find(r => r.name.startsWith('naive'))
const ratio = (a?: number, b?: number) => a === undefined || b === undefined ? 'n/a' : `${(a / b).toFixed(2)}×`
const rows = (f: (r: Result) => string) => results.map(f).join(' | ')
const report = `# Status ingest: group commit vs one transaction per report

Measured ${new Date().toISOString()} on ${facts}.
**The load generators (${WORKERS} processes), the hub (one process) and PostgreSQL share these cores**, on a
shared machine where other engineers run tests at the same time: figures are noisy; compare the
columns of one run (measured minutes apart, same machine, same database).

Command: \`${command}\` (${AGENTS} agents × ${SERVERS} servers, hub pool of ${POOL} connections, default hub config otherwise).
Agents are the simulator's agent client; each server cycles STOPPED → STARTING → RUNNING → STOPPING → STOPPED.
Latencies are status sent → status.ack received, measured in the generator (exact percentiles of every sample).

## (i) Max sustained durable transitions/s (target ≥ 20,000/s)

Closed loop: every server keeps ${WINDOW} statuses in flight (${int(AGENTS * SERVERS * WINDOW)} in total) and sends the
next on each ack; ${WARMUP} s warm-up, then ${SECONDS} s measured.

| | ${rows(r => r.name)} |
| --- | ${rows(() => '---')} |
| status.ack/s | ${rows(r => `**${int(r.throughput.acksPerS)}**`)} |
| transition rows written/s | ${rows(r => int(r.throughput.rowsPerS))} |
| transactions committed/s (whole database) | ${rows(r => int(r.throughput.commitsPerS))} |
| rows per transaction | ${rows(r => r.throughput.rowsPerCommit.toFixed(1))} |
| latency p50 / p99 / max | ${rows(r => `${ms(r.throughput.latency.p50)} / ${ms(r.throughput.latency.p99)} / ${ms(r.throughput.latency.max)}`)} |
| error frames / refused reports | ${rows(r => showCounts(r.throughput.errors))} |
| pool connection held per checkout (≈ one transaction) p50 / p99 / max | ${rows(r => holdText(r.throughput.holds))} |
| CPU cores busy | ${rows(r => cpuText(r.throughput.cpu))} |

Group commit / naive: **${ratio(group?.throughput.acksPerS, naive?.throughput.acksPerS)}** the throughput.

## (ii) status → status.ack at a fixed ${int(RATE)} transitions/s (target p99 ≤ 25 ms)

Open loop, round-robin over all servers, 3 s warm-up, then ${SECONDS} s measured.

| | ${rows(r => r.name)} |
| --- | ${rows(() => '---')} |
| achieved acks/s | ${rows(r => int(r.fixed.achievedPerS))} |
| samples | ${rows(r => int(r.fixed.latency.n))} |
| p50 | ${rows(r => ms(r.fixed.latency.p50))} |
| p90 | ${rows(r => ms(r.fixed.latency.p90))} |
| **p99** | ${rows(r => `**${ms(r.fixed.latency.p99)}**`)} |
| p99.9 | ${rows(r => ms(r.fixed.latency.p999))} |
| max | ${rows(r => ms(r.fixed.latency.max))} |
| not sent (a server's outbox of 64 unacked was full) | ${rows(r => int(r.fixed.skipped))} |
| error frames / refused reports | ${rows(r => showCounts(r.fixed.errors))} |
| pool connection held per checkout (≈ one transaction) p50 / p99 / max | ${rows(r => holdText(r.fixed.holds))} |
| CPU cores busy | ${rows(r => cpuText(r.fixed.cpu))} |

Connections closed during the run: ${rows(r => showCounts(r.closes))}. Hub warnings/errors logged: ${rows(r => showCounts(r.hubLogged))}.
`
const out = path.join(root, 'bench/results/ingest.md')
await writeFile(out, report)
process.stdout.write(report)
