// End-to-end action throughput across 500 agents: POST → command → ack → result → SUCCEEDED
// persisted. Open loop at a target rate with a bound on requests in flight; the figure is
// SUCCEEDED rows per second over the window from the first POST to the last SUCCEEDED. Agents and
// HTTP load run in WORKERS load-generator processes (bench/lib/command-worker.ts), each with its
// slice of the agents and of the rate; the hub is a child process of its own. CPU seconds of the
// hub, PostgreSQL and the generators are reported, so a saturated generator shows.
// Writes bench/results/command-throughput.md.
// Usage: node bench/command-throughput.ts [rate=2500] [seconds=10] [workers=2] [maxInFlight=512]
import { writeFile } from 'node:fs/promises'
import { loadavg } from 'node:os'
import path from 'node:path'
import { machine, startFixture } from './hub-fixture.ts'
import { cpuSeconds, postgresPids } from './lib/machine.ts'
import { spawnChild } from './lib/rpc.ts'

const RATE = Number(process.argv[2] ?? 2500)
const SECONDS = Number(process.argv[3] ?? 10)
const WORKERS = Number(process.argv[4] ?? 2)
const AGENTS = 500
const SERVERS_EACH = 8
const MAX_IN_FLIGHT = Number(process.argv[5] ?? 512)

const fixture = await startFixture({ HUB_DB_POOL_MAX: '16' })
let report = ''
let cpuLine = ''
const load = loadavg().map(l => l.toFixed(1)).join(', ')
const workers = Array.from({ length: WORKERS }, () => spawnChild(path.join(import.meta.dirname, 'lib/command-worker.ts'), {}))
try {
  const nodes = await fixture.addNodes(AGENTS, SERVERS_EACH)
  await Promise.all(workers.map(async w => await w.ready))
  await Promise.all(workers.map(async (w, k) => await w.call('connect', {
    url: fixture.url, token: fixture.token, nodes: nodes.filter((_, i) => i % WORKERS === k), sockets: Math.ceil(MAX_IN_FLIGHT / WORKERS)
  })))
  const pgPids = await postgresPids(fixture.postmasterPid)
  const before = { hub: await cpuSeconds([fixture.hubPid]), pg: await cpuSeconds(pgPids) }
  const started = Date.now()
  const runs = await Promise.all(workers.map(async w => await w.call<{ accepted: number, conflicts: number, other: number, skipped: number, sendSeconds: number, cpuSeconds: number }>(
    'run', { perSecond: RATE / WORKERS, seconds: SECONDS, maxInFlight: Math.ceil(MAX_IN_FLIGHT / WORKERS) })))
  const sum = (k: 'accepted' | 'conflicts' | 'other' | 'skipped') => runs.reduce((n, r) => n + r[k], 0)
  const sendSeconds = Math.max(...runs.map(r => r.sendSeconds))
  const deadline = Date.now() + 30_000
  for (;;) {
    const { rows } = await fixture.db.query("SELECT count(*) FILTER (WHERE state = 'SUCCEEDED')::int AS ok, count(*) FILTER (WHERE state IN ('QUEUED','DISPATCHED','ACKED'))::int AS live, extract(epoch FROM max(completed_at))*1000 AS last FROM server_actions")
    if (rows[0].live === 0 || Date.now() > deadline) {
      const done = rows[0].ok as number
      const window = (Number(rows[0].last) - started) / 1000
      const after = { hub: await cpuSeconds([fixture.hubPid]), pg: await cpuSeconds(pgPids) }
      const gen = runs.map(r => r.cpuSeconds)
      report = `| ${RATE}/s for ${SECONDS} s | ${sum('accepted')} | ${sum('conflicts')} | ${sum('other')} | ${sum('skipped')} | ${done} | ${rows[0].live} | ${window.toFixed(2)} | **${Math.round(done / window)}** | ${Math.round(sum('accepted') / sendSeconds)} |`
      cpuLine = `| ${window.toFixed(2)} | ${(after.hub - before.hub).toFixed(1)} | ${(after.pg - before.pg).toFixed(1)} | ${gen.map(g => g.toFixed(1)).join(' + ')} (sending window ${sendSeconds.toFixed(1)} s) |`
      break
    }
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  console.log(report)
  console.log(cpuLine)
  await Promise.all(workers.map(async w => await w.call('close')))
} finally {
  await Promise.all(workers.map(async w => await w.stop()))
  await fixture.close()
}

const md = `# Command throughput

Measured ${new Date().toISOString().slice(0, 10)} on ${machine()}; load average ${load} when it
started. The machine is shared with other engineers' runs (noisy); the hub (child process,
HUB_DB_POOL_MAX=16), PostgreSQL 18 (embedded, default settings, synchronous commit), ${AGENTS} agents
(${SERVERS_EACH} servers each, answering at once) and the HTTP load (at most ${MAX_IN_FLIGHT} requests in flight in
all) share its 2 cores; agents and HTTP load run in ${WORKERS} load-generator processes, each with its
share of the agents and of the rate. Script: \`node bench/command-throughput.ts ${RATE} ${SECONDS} ${WORKERS} ${MAX_IN_FLIGHT}\`.
Target (issue 4): ≥ 2,000 actions/s end to end (POST → command → ack → result → SUCCEEDED persisted).

| offered | 202 | 409 | other | not sent (in-flight bound) | SUCCEEDED | still live | window s | SUCCEEDED/s | accepted/s |
| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |
${report}

CPU seconds over the run (2 cores: at most 2 × window):

| window s | hub | PostgreSQL | load generators |
| --- | --- | --- | --- |
${cpuLine}
`
await writeFile(path.resolve(import.meta.dirname, 'results/command-throughput.md'), md)
console.log(md)
