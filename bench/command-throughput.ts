// End-to-end action throughput across 500 agents: POST → command → ack → result → SUCCEEDED
// persisted. Open loop at a target rate with a bound on requests in flight; the figure is
// SUCCEEDED rows per second over the window from the first POST to the last SUCCEEDED.
// Writes bench/results/command-throughput.md. Usage: node bench/command-throughput.ts [rate=2500] [seconds=10]
import { writeFile } from 'node:fs/promises'
import path from 'node:path'
import { createAgentClient, type AgentClient } from '../agent-simulator/agent-client.ts'
import { atRate, machine, startFixture, until } from './hub-fixture.ts'

const RATE = Number(process.argv[2] ?? 2500)
const SECONDS = Number(process.argv[3] ?? 10)
const AGENTS = 500
const SERVERS_EACH = 8
const MAX_IN_FLIGHT = 512

const fixture = await startFixture({ HUB_DB_POOL_MAX: '16' })
let report = ''
try {
  const nodes = await fixture.addNodes(AGENTS, SERVERS_EACH)
  const agents: AgentClient[] = nodes.map(node => createAgentClient({
    url: fixture.url.replace('http', 'ws') + '/agent/v1',
    token: node.agentToken,
    servers: node.servers.map(serverId => ({ serverId, status: 'STOPPED' as const, seq: 0 })),
    onCommand: () => ({ ok: true })
  }))
  for (let i = 0; i < agents.length; i += 50) await Promise.all(agents.slice(i, i + 50).map(async a => await a.connect()))
  const servers = nodes.flatMap(n => n.servers)
  let inFlight = 0
  let accepted = 0
  let conflicts = 0
  let other = 0
  let skipped = 0
  const post = (i: number) => {
    if (inFlight >= MAX_IN_FLIGHT) { skipped++; return }
    inFlight++
    fetch(`${fixture.url}/api/servers/${servers[i % servers.length] as string}/actions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${fixture.token}`, 'content-type': 'application/json' },
      body: '{"action":"RESTART"}'
    }).then(async res => {
      if (res.status === 202) accepted++
      else if (res.status === 409) conflicts++
      else other++
      await res.arrayBuffer()
    }).catch(() => { other++ }).finally(() => { inFlight-- })
  }
  const started = Date.now()
  const sendSeconds = await atRate(RATE, SECONDS, post)
  await until(() => inFlight === 0)
  const deadline = Date.now() + 30_000
  let done = 0
  for (;;) {
    const { rows } = await fixture.db.query("SELECT count(*) FILTER (WHERE state = 'SUCCEEDED')::int AS ok, count(*) FILTER (WHERE state IN ('QUEUED','DISPATCHED','ACKED'))::int AS live, extract(epoch FROM max(completed_at))*1000 AS last FROM server_actions")
    done = rows[0].ok
    if (rows[0].live === 0 || Date.now() > deadline) {
      const window = (Number(rows[0].last) - started) / 1000
      report = `| ${RATE}/s for ${SECONDS} s | ${accepted} | ${conflicts} | ${other} | ${skipped} | ${done} | ${window.toFixed(2)} | **${Math.round(done / window)}** | ${Math.round(accepted / sendSeconds)} |`
      break
    }
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  console.log(report)
  for (const a of agents) await a.close()
} finally {
  await fixture.close()
}

const md = `# Command throughput

Measured ${new Date().toISOString().slice(0, 10)} on ${machine()}. The machine is shared with other
engineers' runs (noisy); the hub (child process, HUB_DB_POOL_MAX=16), PostgreSQL 18 (embedded,
default settings, synchronous commit), ${AGENTS} agents (${SERVERS_EACH} servers each, answering at once) and the
HTTP load generator (at most ${MAX_IN_FLIGHT} requests in flight) share its 2 cores.
Script: \`node bench/command-throughput.ts ${RATE} ${SECONDS}\`. Target (issue 4): ≥ 2,000 actions/s end to end.

| offered | 202 | 409 | other | not sent (in-flight bound) | SUCCEEDED | window s | SUCCEEDED/s | accepted/s |
| --- | --- | --- | --- | --- | --- | --- | --- | --- |
${report}
`
await writeFile(path.resolve(import.meta.dirname, 'results/command-throughput.md'), md)
console.log(md)
