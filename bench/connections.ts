// Connections: 10,000 idle authenticated agents (hello sent, welcome received) held by one hub
// process, and the memory they cost next to a bare `ws` server holding as many plain
// connections, in the same run. The agents all connect at once against a fresh hub (the storm
// after a hub restart): time until every one is welcomed, and the database pool's deepest queue.
// RSS deltas are taken after a forced GC in each server process (node --expose-gc), before and
// after the connections, so both servers are measured the same way.
// The load generators, the hub and PostgreSQL share the machine (2 cores here). Writes
// bench/results/connections.md.
//
// Usage: node bench/connections.ts [--agents 10000] [--workers 2] [--hold 15]
import { writeFile } from 'node:fs/promises'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { createFixture, ISSUER, split } from './lib/fixture.ts'
import { machineFacts } from './lib/machine.ts'
import { int, mib, showCounts, sleep, sumCounts } from './lib/report.ts'
import { spawnChild } from './lib/rpc.ts'

const { values: args } = parseArgs({
  options: {
    agents: { type: 'string', default: '10000' },
    workers: { type: 'string', default: '2' },
    hold: { type: 'string', default: '15' }
  }
})
const AGENTS = Number(args.agents)
const WORKERS = Number(args.workers)
const HOLD = Number(args.hold)
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

let bare: { rss0: number, rss1: number, connections: number, connectMs: number } | undefined
let hub: {
  rss0: number,
  rss1: number,
  heap0: number,
  heap1: number,
  agents: number,
  stormMs: number,
  slowestMs: number,
  failures: Record<string, number>,
  maxWaiting: number,
  poolMax: number,
  logged: Record<string, number>,
  heldAgents: number,
  closes: Record<string, number>
} | undefined

try {
  // 1. The reference: a bare ws server.
  {
    log('bare ws server')
    const server = spawnChild<{ url: string }>(lib('ws-server-process.ts'), {})
    const { url } = await server.ready
    const workers = await startWorkers(url)
    try {
      const before = await server.call('gc')
      const t0 = performance.now()
      await Promise.all(workers.map(async w => await w.call('connect', { plain: true })))
      const connectMs = performance.now() - t0
      await sleep(2_000)
      const after = await server.call('gc')
      bare = { rss0: before.rss, rss1: after.rss, connections: after.connections, connectMs }
      log(`bare ws: ${after.connections} connections, ${int((after.rss - before.rss) / after.connections)} B each`)
      await Promise.all(workers.map(async w => await w.call('close')))
    } finally {
      await Promise.all(workers.map(async w => await w.stop()))
      await server.stop()
    }
  }

  // 2. The hub: a fresh process, every agent at once.
  {
    log('hub: connect storm')
    const server = spawnChild<{ url: string }>(lib('hub-process.ts'), {
      BENCH_HUB: JSON.stringify({ env: { DATABASE_URL: fixture.databaseUrl, HUB_AGENT_KEYS: fixture.agentKeys, HUB_ISSUER: ISSUER } })
    })
    const { url } = await server.ready
    const workers = await startWorkers(url)
    try {
      const before = await server.call('gc')
      await server.call('resetMaxWaiting')
      const t0 = performance.now()
      const results = await Promise.all(workers.map(async w => await w.call('connect', {}, 180_000)))
      const stormMs = performance.now() - t0
      const afterStorm = await server.call('stats')
      log(`hub: ${afterStorm.agents} agents welcomed in ${int(stormMs)} ms; pool max waiting ${afterStorm.pool.maxWaiting}`)
      log(`hub: holding them idle for ${HOLD} s`)
      await sleep(HOLD * 1000)
      const after = await server.call('gc')
      const reads = await Promise.all(workers.map(async w => await w.call('read', {})))
      hub = {
        rss0: before.rss,
        rss1: after.rss,
        heap0: before.heapUsed,
        heap1: after.heapUsed,
        agents: afterStorm.agents,
        stormMs,
        slowestMs: Math.max(...results.map(r => r.slowestMs)),
        failures: sumCounts(results.map(r => r.failures)),
        maxWaiting: afterStorm.pool.maxWaiting,
        poolMax: afterStorm.pool.max,
        logged: after.logged,
        heldAgents: after.agents,
        closes: sumCounts(reads.map(r => r.closes))
      }
      log(`hub: ${after.agents} agents held, ${int((after.rss - before.rss) / after.agents)} B each`)
      await Promise.all(workers.map(async w => await w.call('close', undefined, 120_000)))
      await server.call('close', undefined, 60_000)
    } finally {
      await Promise.all(workers.map(async w => await w.stop()))
      await server.stop()
    }
  }
} finally {
  await fixture.close()
}

if (bare === undefined || hub === undefined) throw new Error('a phase did not complete')
const bareEach = (bare.rss1 - bare.rss0) / bare.connections
const hubEach = (hub.rss1 - hub.rss0) / hub.heldAgents
const report = `# Connections: ${int(AGENTS)} idle agents on one hub, and a connect storm

Measured ${new Date().toISOString()} on ${facts}.
**The load generators (${WORKERS} processes), the server under test and PostgreSQL share these cores**, on a
shared machine where other engineers run tests at the same time: figures are noisy; compare the
two servers of one run.

Command: \`${command}\`. Agents are the simulator's agent client (token on the upgrade, hello with one
server, welcome), split over ${WORKERS} generator processes. Hub: default config (pool of ${hub.poolMax}
connections, heartbeat 10 s), in its own process; its PostgreSQL is the embedded one.

## Memory per connection (target: hub ≤ 2× bare ws)

RSS of the server process after a forced GC, before and after the connections (${HOLD} s of idling, heartbeats included, for the hub).

| | bare \`ws\` server | hub (authenticated agents) |
| --- | --- | --- |
| connections held | ${int(bare.connections)} | ${int(hub.heldAgents)} |
| RSS before → after | ${mib(bare.rss0)} → ${mib(bare.rss1)} | ${mib(hub.rss0)} → ${mib(hub.rss1)} |
| **RSS per connection** | **${int(bareEach)} B** | **${int(hubEach)} B** |
| JS heap per connection | | ${int((hub.heap1 - hub.heap0) / hub.heldAgents)} B |

Hub / bare ws: **${(hubEach / bareEach).toFixed(2)}×**.

## Connect storm (target: all welcomed within 30 s, pool not exhausted)

All ${int(AGENTS)} agents start connect() at the same moment against the freshly started hub.

| | |
| --- | --- |
| **all welcomed after** | **${(hub.stormMs / 1000).toFixed(1)} s** (slowest agent ${(hub.slowestMs / 1000).toFixed(1)} s) |
| agents attached on the hub | ${int(hub.agents)} |
| failed connect attempts (retried) | ${showCounts(hub.failures)} |
| deepest queue for a pool connection | ${hub.maxWaiting} waiting (pool of ${hub.poolMax}) |
| hub warnings/errors logged (e.g. "hello failed") | ${showCounts(hub.logged)} |
| closes seen by agents while idle | ${showCounts(hub.closes)} |

For comparison, the ${int(bare.connections)} plain connections to the bare ws server took ${(bare.connectMs / 1000).toFixed(1)} s.
`
await writeFile(path.join(root, 'bench/results/connections.md'), report)
process.stdout.write(report)
