// The markdown of bench/results/connections-restart.md (bench/connections.ts, phase `restart`).
import { percentiles, showCounts, int } from './report.ts'
import type { StormRun } from './restart-storm.ts'

interface Input {
  facts: string
  command: string
  workers: number
  timeoutMs: number
  setup: StormRun
  runs: StormRun[]
  backoff: Array<{ downMs: number, p50: number, p90: number, p99: number, max: number }>
}

const s = (ms: number) => Number.isNaN(ms) ? '–' : `${(ms / 1000).toFixed(2)} s`
const noAnswer = (r: StormRun) => r.failures['no upgrade answer in time'] ?? 0

function row (label: string, r: StormRun): string {
  const w = percentiles(r.welcomed)
  const u = percentiles(r.upgraded)
  const all = r.welcomed.length === r.agents ? s(w.max) : `not all (${int(r.welcomed.length)} of ${int(r.agents)})`
  return `| ${label} | ${r.backlog} | **${all}** | ${s(w.p50)} | ${s(w.p90)} | ${s(w.p99)} | ${s(u.p99)} | **${int(noAnswer(r))}** | ${showCounts(r.failures)} | ${r.stopMs === undefined ? '–' : s(r.stopMs)} | ${r.loadBefore} → ${r.loadAfter} |`
}

export function restartReport ({ facts, command, workers, timeoutMs, setup, runs, backoff }: Input): string {
  return `# Cold restart storm: ${int(setup.agents)} agents reconnecting at once

Measured ${new Date().toISOString()} on ${facts}.
**The load generators (${workers} processes), the hub and PostgreSQL share these 2 cores, on a machine
shared with other engineers' tests at the same time** (load average before → after each storm in
the table): figures are noisy; compare the rows of one run.

Command: \`${command}\`. Every agent connects to a hub (setup), then the hub process is stopped
(its agents get 1001), a new hub process starts on the same port, and as soon as it listens every
agent opens its socket again at the same moment: bare \`ws\` clients (token on the upgrade, hello,
welcome), no retry, no jitter, ${workers} generator processes. An agent whose upgrade got no answer within
${timeoutMs / 1000} s counts as such. Times are from that moment. Each row is a restart of the previous row's hub
with all its agents connected; the backlog is what the new hub listened with
(\`HUB_LISTEN_BACKLOG\`, default: the kernel's cap, \`net.core.somaxconn\`). Target: all welcomed ≤ 10 s.

| storm | listen backlog | **all welcomed after** | welcome p50 | p90 | p99 | upgrade answered p99 | **no upgrade answer in ${timeoutMs / 1000} s** | failures | previous hub's stop | load average |
| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |
${row('setup (first connect, not a restart)', setup)}
${runs.map(r => row(`restart, backlog ${r.asked === undefined ? 'default' : String(r.asked)}`, r)).join('\n')}

## What the agent client's backoff adds

The numbers above are the worst case: no client-side spreading. The agent client
(\`agent-simulator/agent-client.ts\`) reconnects after a 1001 with full-jitter backoff
(\`agent-simulator/backoff.ts\`: a delay uniform in [0, 0.5 s), the ceiling doubling per failed
attempt up to 30 s). An attempt while the hub is still down fails at once and doubles the next
ceiling, so the longer the restart, the later after it an agent comes back. How long after the
new hub listens each of ${int(setup.agents)} agents makes its first attempt (the client's own delay function,
simulated):

| hub away for | p50 | p90 | p99 | max |
| --- | --- | --- | --- | --- |
${backoff.map(b => `| ${b.downMs / 1000} s | ${s(b.p50)} | ${s(b.p90)} | ${s(b.p99)} | ${s(b.max)} |`).join('\n')}

So the backoff adds that delay to each agent's time to welcome, and in exchange spreads the
arrivals over it instead of one instant, which is what keeps the accept queue from overflowing
in a real fleet.
`
}
