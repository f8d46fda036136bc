// Latency from `POST /api/servers/:id/actions` (request sent) to the agent receiving `command`, at
// 200 actions/s, side by side in one run with bare pg-boss send → work callback (a) polling at
// 0.5 s (pg-boss's smallest interval; its default is 2 s) and (b) with LISTEN/NOTIFY. The hub runs
// as a child process on embedded PostgreSQL; agents, load and pg-boss run in this process.
// Writes bench/results/command-latency.md. Usage: node bench/command-latency.ts [seconds=10]
import { writeFile } from 'node:fs/promises'
import http from 'node:http'
import { loadavg } from 'node:os'
import path from 'node:path'
import * as hdr from 'hdr-histogram-js'
import { PgBoss } from 'pg-boss'
import { createAgentClient, type AgentClient } from '../agent-simulator/agent-client.ts'
import { atRate, machine, startFixture, until } from './hub-fixture.ts'

const SECONDS = Number(process.argv[2] ?? 10)
const RATE = 200
const histogram = () => hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 })
const ms = (h: hdr.Histogram, p: number) => (h.getValueAtPercentile(p) / 1000).toFixed(2)
const row = (name: string, h: hdr.Histogram) => `| ${name} | ${h.totalCount} | ${ms(h, 50)} | ${ms(h, 99)} | ${ms(h, 99.9)} | ${(h.maxValue / 1000).toFixed(2)} |`

const load = () => loadavg().map(l => l.toFixed(1)).join(', ')
const loadAtStart = load()
const fixture = await startFixture()
const results: string[] = []
const p50: number[] = []
const p99: number[] = []
try {
  // (a) and (b): bare pg-boss on the same PostgreSQL, each in its own schema.
  for (const [name, notify] of [['(a) bare pg-boss, polling 0.5 s', false], ['(b) bare pg-boss, LISTEN/NOTIFY', true]] as const) {
    const boss = new PgBoss({ connectionString: fixture.databaseUrl, schema: notify ? 'bench_notify' : 'bench_poll', useListenNotify: notify, supervise: false, schedule: false, max: 4 })
    boss.on('error', err => console.error(err))
    await boss.start()
    await boss.createQueue('bench', { notify })
    const h = histogram()
    let received = 0
    await boss.work<{ t0: number }>('bench', { pollingIntervalSeconds: 0.5, batchSize: 500 }, async jobs => {
      const now = performance.now()
      for (const job of jobs) { h.recordValue(Math.max(1, Math.round((now - job.data.t0) * 1000))); received++ }
    })
    await atRate(RATE, SECONDS, () => { boss.send('bench', { t0: performance.now() }).catch(err => console.error(err)) })
    await until(() => received >= RATE * SECONDS)
    await boss.stop({ graceful: true })
    p50.push(h.getValueAtPercentile(50)); p99.push(h.getValueAtPercentile(99))
    results.push(row(name, h))
    console.log(row(name, h))
  }

  // The hub: 50 nodes × 20 servers, round robin, so a server's previous action is long final.
  const nodes = await fixture.addNodes(50, 20)
  const sentAt = new Map<string, number>()
  const h = histogram()
  let received = 0
  const agents: AgentClient[] = nodes.map(node => createAgentClient({
    url: fixture.url.replace('http', 'ws') + '/agent/v1',
    token: node.agentToken,
    servers: node.servers.map(serverId => ({ serverId, status: 'STOPPED' as const, seq: 0 })),
    onCommand: cmd => {
      const t0 = sentAt.get(cmd.serverId)
      if (t0 !== undefined) { h.recordValue(Math.max(1, Math.round((performance.now() - t0) * 1000))); received++ }
      return { ok: true }
    }
  }))
  await Promise.all(agents.map(async a => await a.connect()))
  const servers = nodes.flatMap(n => n.servers)
  let refused = 0
  // node:http with keep-alive: a light client, so the figure is the hub's path, not fetch's.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 })
  const body = Buffer.from('{"action":"RESTART"}')
  const post = (i: number) => {
    const serverId = servers[i % servers.length] as string
    sentAt.set(serverId, performance.now())
    const req = http.request(`${fixture.url}/api/servers/${serverId}/actions`, {
      method: 'POST',
      agent,
      headers: { authorization: `Bearer ${fixture.token}`, 'content-type': 'application/json', 'content-length': body.length }
    }, res => { if (res.statusCode !== 202) refused++; res.resume() })
    req.on('error', () => { refused++ })
    req.end(body)
  }
  await atRate(RATE, 1, post) // warm-up: connections, prepared statements
  await new Promise(resolve => setTimeout(resolve, 500))
  h.reset(); received = 0
  await atRate(RATE, SECONDS, i => post(i + RATE))
  await until(() => received >= RATE * SECONDS - refused, 10_000)
  results.push(row('hub: POST → agent receives `command`', h) + (refused > 0 ? ` (${refused} refused)` : ''))
  p50.push(h.getValueAtPercentile(50)); p99.push(h.getValueAtPercentile(99))
  console.log(results.at(-1))
  await Promise.all(agents.map(async a => await a.close()))
  agent.destroy()
} finally {
  await fixture.close()
}

const [a50, b50, h50] = p50 as [number, number, number]
const [, b99, h99] = p99 as [number, number, number]
const x = (n: number) => n.toFixed(n < 10 ? 2 : 1)
const md = `# Command latency

Measured ${new Date().toISOString().slice(0, 10)} on ${machine()}; load average ${loadAtStart} at the
start, ${load()} at the end. The machine is shared with other engineers' runs (noisy); hub (child
process), PostgreSQL 18 (embedded, default settings), pg-boss, agents and the load generator share
its 2 cores. ${RATE} actions/s for ${SECONDS} s each, open loop.
Script: \`node bench/command-latency.ts ${SECONDS}\`. Histograms: hdr-histogram-js.

| path | samples | p50 ms | p99 ms | p99.9 ms | max ms |
| --- | --- | --- | --- | --- | --- |
${results.join('\n')}

The hub's figure covers the whole path: HTTP request, session and server lookups (in parallel),
the creating transaction (the node is connected to this hub, so the action row is claimed
DISPATCHED in it, with its pg-boss job and the QUEUED and DISPATCHED events), and the WebSocket
frame sent right after that commit.
Targets (issue 4): hub p50 ≤ 5 ms, p99 ≤ 15 ms; within 2× of (b); at least 50× below (a).

Ratios in this run: hub p50 / (b) p50 = ${x(h50 / b50)}, hub p99 / (b) p99 = ${x(h99 / b99)};
(a) p50 / hub p50 = ${x(a50 / h50)}.
`
await writeFile(path.resolve(import.meta.dirname, 'results/command-latency.md'), md)
console.log(md)
