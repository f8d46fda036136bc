// Connections: 10,000 idle authenticated agents (hello sent, welcome received) held by one hub
// process, and the memory they cost next to a bare `ws` server holding as many plain
// connections, in the same run. Each server is measured twice, each time as a fresh process:
//  - ramp: the connections arrive at a steady rate (--ramp per second), as a fleet does in normal
//    operation; RSS per connection here is the cost of holding them;
//  - storm: every connection at once (as after a hub restart): time until every agent is
//    welcomed, the database pool's deepest queue, and RSS after the storm, which also holds what
//    the allocator kept from the storm's peak.
// RSS is read after a forced GC (node --expose-gc), before and after the connections, the same
// way for both servers. The load generators, the hub and PostgreSQL share the machine (2 cores
// here). Writes bench/results/connections.md.
//  - restart (bench/lib/restart-storm.ts): the cold restart storm. Every agent connected, the hub
//    restarted, every agent connecting again at once with no client-side spreading; once per
//    listen backlog of --backlogs, in one run. Writes bench/results/connections-restart.md.
//
// Usage: node bench/connections.ts [--agents 10000] [--workers 2] [--hold 15] [--ramp 1000]
//          [--phases memory,restart] [--backlogs 511,default] [--restart-timeout 30]
import { writeFileSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { createFixture, ISSUER, split, type BenchAgent } from './lib/fixture.ts'
import { machineFacts } from './lib/machine.ts'
import { int, mib, showCounts, sleep, sumCounts } from './lib/report.ts'
import { backoffAfterRestart, restartStorms } from './lib/restart-storm.ts'
import { restartReport } from './lib/restart-report.ts'
import { spawnChild } from './lib/rpc.ts'

const { values: args } = parseArgs({
  options: {
    agents: { type: 'string', default: '10000' },
    workers: { type: 'string', default: '2' },
    hold: { type: 'string', default: '15' },
    ramp: { type: 'string', default: '1000' },
    phases: { type: 'string', default: 'memory,restart' },
    backlogs: { type: 'string', default: '511,default' },
    'restart-timeout': { type: 'string', default: '30' }
  }
})
const PHASES = new Set(args.phases.split(','))
const BACKLOGS = args.backlogs.split(',').map(b => b === 'default' ? undefined : Number(b))
const RESTART_TIMEOUT_MS = Number(args['restart-timeout']) * 1000
const AGENTS = Number(args.agents)
const WORKERS = Number(args.workers)
const HOLD = Number(args.hold)
const RAMP = Number(args.ramp)
const root = path.resolve(import.meta.dirname, '..')
const command = `node bench/connections.ts ${process.argv.slice(2).join(' ')}`.trim()
const log = (msg: string) => process.stderr.write(`[connections] ${msg}\n`)
const lib = (file: string) => path.join(import.meta.dirname, 'lib', file)

log(`creating ${AGENTS} nodes with one server each`)
const fixture = await createFixture(AGENTS, 1)
const facts = await machineFacts(fixture.databaseUrl)
const slices = split(fixture.agents, WORKERS)
const startWorkers = async (url: string) => {
  const workers = slices.map(() => spawnChild(lib('agent-worker.ts'), {}))
  await Promise.all(workers.map(async (w, i) => { await w.ready; await w.call('setup', { url, agents: slices[i] }) }))
  return workers
}

interface Phase {
  /** Ramp only: after the first half of the connections, so the second half's cost is marginal. */
  half?: { rss: number, heap: number, held: number }
  rss0: number
  rss1: number
  heap0: number
  heap1: number
  held: number
  connectMs: number
  slowestMs: number
  failures: Record<string, number>
  maxWaiting?: number
  poolMax?: number
  logged?: Record<string, number>
  closes: Record<string, number>
}

/** One fresh server process, the agents connecting in a ramp or a storm, then held idle. */
async function measure (server: 'bare' | 'hub', mode: 'ramp' | 'storm'): Promise<Phase> {
  log(`${server}: ${mode}`)
  const child = server === 'bare'
    ? spawnChild<{ url: string }>(lib('ws-server-process.ts'), {})
    : spawnChild<{ url: string }>(lib('hub-process.ts'), {
      BENCH_HUB: JSON.stringify({ env: { DATABASE_URL: fixture.databaseUrl, HUB_AGENT_KEYS: fixture.agentKeys, HUB_ISSUER: ISSUER } })
    })
  const { url } = await child.ready
  const workers = await startWorkers(url)
  try {
    const before = await child.call('gc')
    if (server === 'hub') await child.call('resetMaxWaiting')
    const t0 = performance.now()
    const perSecond = mode === 'ramp' ? RAMP / WORKERS : undefined
    const connect = async () => await Promise.all(workers.map(async w => await w.call('connect', { plain: server === 'bare', perSecond }, 180_000)))
    let half: Phase['half']
    let results
    if (mode === 'ramp') {
      // In two halves: RSS after the first half holds every fixed cost the load brings (V8's
      // young generation grows under allocation pressure, JIT code, pool connections), so the
      // second half's growth is what each further connection costs.
      await Promise.all(workers.map(async (w, i) => await w.call('setup', { url, agents: (slices[i] as BenchAgent[]).slice(0, Math.floor((slices[i] as BenchAgent[]).length / 2)) })))
      const first = await connect()
      const mid = await child.call('gc')
      half = { rss: mid.rss, heap: mid.heapUsed, held: server === 'hub' ? mid.agents : mid.connections }
      await Promise.all(workers.map(async (w, i) => await w.call('setup', { url, agents: (slices[i] as BenchAgent[]).slice(Math.floor((slices[i] as BenchAgent[]).length / 2)) })))
      const second = await connect()
      results = [...first, ...second]
    } else {
      results = await connect()
    }
    const connectMs = performance.now() - t0
    const connected = await child.call('stats')
    log(`${server} ${mode}: connected in ${int(connectMs)} ms; holding them idle for ${HOLD} s`)
    await sleep(HOLD * 1000)
    const after = await child.call('gc')
    const reads = server === 'hub' ? await Promise.all(workers.map(async w => await w.call('read', {}))) : []
    const held = server === 'hub' ? after.agents : after.connections
    log(`${server} ${mode}: ${held} held, ${int((after.rss - before.rss) / held)} B each`)
    await Promise.all(workers.map(async w => await w.call('close', undefined, 120_000)))
    if (server === 'hub') await child.call('close', undefined, 60_000)
    return {
      half,
      rss0: before.rss,
      rss1: after.rss,
      heap0: before.heapUsed,
      heap1: after.heapUsed,
      held,
      connectMs,
      slowestMs: Math.max(...results.map(r => r.slowestMs)),
      failures: sumCounts(results.map(r => r.failures)),
      maxWaiting: connected.pool?.maxWaiting,
      poolMax: connected.pool?.max,
      logged: after.logged,
      closes: sumCounts(reads.map(r => r.closes))
    }
  } finally {
    await Promise.all(workers.map(async w => await w.stop()))
    await child.stop()
  }
}

let phases: Record<'bareRamp' | 'hubRamp' | 'bareStorm' | 'hubStorm', Phase> | undefined
try {
  if (PHASES.has('memory')) {
    phases = {
      bareRamp: await measure('bare', 'ramp'),
      hubRamp: await measure('hub', 'ramp'),
      bareStorm: await measure('bare', 'storm'),
      hubStorm: await measure('hub', 'storm')
    }
  }
  if (PHASES.has('restart')) {
    const { setup, runs } = await restartStorms(fixture, slices, lib('hub-process.ts'), lib('agent-worker.ts'), BACKLOGS, RESTART_TIMEOUT_MS, log)
    const backoff = [1_000, 5_000, 15_000].map(downMs => ({ downMs, ...backoffAfterRestart(downMs, AGENTS) }))
    const text = restartReport({ facts, command, workers: WORKERS, timeoutMs: RESTART_TIMEOUT_MS, setup, runs, backoff })
    await writeFile(path.join(root, 'bench/results/connections-restart.md'), text)
    process.stdout.write(text)
  }
} finally {
  await fixture.close()
}
if (phases !== undefined) writeMemoryReport(phases)

function writeMemoryReport (phases: Record<'bareRamp' | 'hubRamp' | 'bareStorm' | 'hubStorm', Phase>): void {
  const each = (p: Phase) => (p.rss1 - p.rss0) / p.held
  /** What each connection of the second half cost (ramp only). */
  const marginal = (p: Phase) => p.half === undefined ? NaN : (p.rss1 - p.half.rss) / (p.held - p.half.held)
  const marginalHeap = (p: Phase) => p.half === undefined ? NaN : (p.heap1 - p.half.heap) / (p.held - p.half.held)
  const ratio = (hub: Phase, bare: Phase) => (each(hub) / each(bare)).toFixed(2)
  const row = (label: string, bare: Phase, hub: Phase) =>
  `| ${label} | ${int(bare.held)} / ${int(hub.held)} | ${mib(bare.rss0)} → ${mib(bare.rss1)} | ${mib(hub.rss0)} → ${mib(hub.rss1)} | **${int(each(bare))} B** | **${int(each(hub))} B** | ${int((hub.heap1 - hub.heap0) / hub.held)} B | **${ratio(hub, bare)}×** |`
  const { hubRamp, bareRamp, hubStorm, bareStorm } = phases
  const report = `# Connections: ${int(AGENTS)} idle agents on one hub, and a connect storm

Measured ${new Date().toISOString()} on ${facts}.
**The load generators (${WORKERS} processes), the server under test and PostgreSQL share these cores**, on a
shared machine where other engineers run tests at the same time: figures are noisy; compare the
two servers of one run.

Command: \`${command}\`${process.env.MALLOC_ARENA_MAX === undefined ? '' : ` with \`MALLOC_ARENA_MAX=${process.env.MALLOC_ARENA_MAX}\` for every process`}. Agents are the simulator's agent client (token on the upgrade, hello with one
server, welcome), split over ${WORKERS} generator processes. Hub: default config (pool of ${hubStorm.poolMax ?? '?'}
connections, heartbeat 10 s), in its own process; its PostgreSQL is the embedded one. Every phase
is a fresh server process.

## Memory per connection (target: hub ≤ 2× bare ws)

RSS of the server process after a forced GC, before and after the connections, after ${HOLD} s of
idling (heartbeats included, for the hub). Ramp: ${int(RAMP)} connections per second; storm: all at once.

Each further connection (ramp, second half: RSS growth from ${int(hubRamp.half?.held ?? 0)} to ${int(hubRamp.held)} connections, divided by the
connections added; fixed costs of the load, such as V8's young generation growing, are already paid):

| | bare \`ws\` | hub | **hub / bare** |
| --- | --- | --- | --- |
| RSS per further connection | **${int(marginal(bareRamp))} B** | **${int(marginal(hubRamp))} B** | **${(marginal(hubRamp) / marginal(bareRamp)).toFixed(2)}×** |
| JS heap per further connection | ${int(marginalHeap(bareRamp))} B | ${int(marginalHeap(hubRamp))} B | |

Average over all connections (total RSS growth divided by the connections held; this includes the
fixed costs, which the hub's load makes larger than a bare server's):

| arrival | held (bare / hub) | bare \`ws\` RSS | hub RSS | **bare per connection** | **hub per connection** | hub JS heap per connection | **hub / bare** |
| --- | --- | --- | --- | --- | --- | --- | --- |
${row('ramp', bareRamp, hubRamp)}
${row('storm', bareStorm, hubStorm)}

## Connect storm (target: all welcomed within 30 s, pool not exhausted)

All ${int(AGENTS)} agents start connect() at the same moment against a freshly started hub.

| | |
| --- | --- |
| **all welcomed after** | **${(hubStorm.connectMs / 1000).toFixed(1)} s** (slowest agent ${(hubStorm.slowestMs / 1000).toFixed(1)} s) |
| agents held on the hub | ${int(hubStorm.held)} |
| failed connect attempts (retried) | ${showCounts(hubStorm.failures)} |
| deepest queue for a pool connection | ${hubStorm.maxWaiting ?? '?'} waiting (pool of ${hubStorm.poolMax ?? '?'}) |
| hub warnings/errors logged (e.g. "hello failed") | ${showCounts(hubStorm.logged ?? {})} |
| closes seen by agents while idle | ${showCounts(hubStorm.closes)} |

For comparison, the ${int(bareStorm.held)} plain connections to the bare ws server took ${(bareStorm.connectMs / 1000).toFixed(1)} s.
`
  writeFileSync(path.join(root, 'bench/results/connections.md'), report)
  process.stdout.write(report)
}
