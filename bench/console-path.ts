// The per-line cost of the console path on the hub that holds the agent (issue 12, "Measured"):
// agent socket -> connection kernel -> agent session (budget, decode) -> console hub -> the
// watching panels' ephemeral sends -> their sockets. One hub process (bench/lib/hub-process.ts),
// one agent generator (bench/lib/agent-worker.ts `stream`, one line per frame, no stats), one
// panel generator (bench/lib/console-panel-worker.ts). Per window: the hub's CPU while idle (the
// same sockets connected, nothing streamed) and while streaming `--lines` lines/s; the cost of a
// line is the difference over the lines sent, in CPU microseconds.
//
// Before/after in one run: `--baseline DIR` names a checkout of another commit (its bench/lib and
// src; node_modules may be a symlink to this tree's). Hubs from both trees are then measured in
// turns (A B A B ..., `--rounds`), each over the same database, agents and panels, so the ratio is
// not skewed by the machine's load drifting between two runs.
//
// First, without sockets (bench/lib/console-path-inproc.ts, `--inproc` runs per tree, alternating):
// the CPU of the hub's own per-line code (agent session, kernel, decode, console hub), which the
// socket windows cannot resolve on a shared machine.
//
// Usage: node bench/console-path.ts [--agents 200] [--servers 2] [--panels 100] [--watch 4]
//        [--lines 4000] [--seconds 8] [--rounds 2] [--inproc 5] [--baseline DIR] [--cpu-prof DIR] [--out FILE]
import { execFile } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { promisify } from 'node:util'
import { loadavg } from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { ADMIN_PASSWORD, adminToken, createFixture, httpOf, ISSUER } from './lib/fixture.ts'
import { machineFacts } from './lib/machine.ts'
import { int, ms, sleep } from './lib/report.ts'
import { spawnChild } from './lib/rpc.ts'

const { values: args } = parseArgs({
  options: {
    agents: { type: 'string', default: '200' },
    servers: { type: 'string', default: '2' },
    panels: { type: 'string', default: '100' },
    watch: { type: 'string', default: '4' },
    lines: { type: 'string', default: '4000' },
    seconds: { type: 'string', default: '8' },
    rounds: { type: 'string', default: '2' },
    inproc: { type: 'string', default: '5' },
    baseline: { type: 'string' },
    'cpu-prof': { type: 'string' },
    out: { type: 'string' }
  }
})
const AGENTS = Number(args.agents)
const PER_AGENT = Number(args.servers)
const PANELS = Number(args.panels)
const WATCH = Number(args.watch)
const LINES = Number(args.lines)
const SECONDS = Number(args.seconds)
const ROUNDS = Number(args.rounds)
const INPROC = Number(args.inproc)
const root = path.resolve(import.meta.dirname, '..')
const trees = [{ name: 'this tree', dir: root }, ...(args.baseline === undefined ? [] : [{ name: `baseline (${args.baseline})`, dir: path.resolve(args.baseline) }])]
const command = `node bench/console-path.ts ${process.argv.slice(2).join(' ')}`.trim()
const log = (msg: string) => process.stderr.write(`[console-path] ${msg}\n`)

// The in-process measure first, while nothing else of this benchmark runs.
const inproc: Array<{ tree: string, us: number }> = []
for (let r = 0; r < INPROC; r++) {
  for (const tree of r % 2 === 0 ? trees : [...trees].reverse()) {
    const { stdout } = await promisify(execFile)(process.execPath, [path.join(import.meta.dirname, 'lib/console-path-inproc.ts')], { env: { ...process.env, BENCH_TREE: tree.dir } })
    inproc.push({ tree: tree.name, us: (JSON.parse(stdout) as { usPerFrame: number }).usPerFrame })
    log(`in process, ${tree.name}: ${inproc.at(-1)?.us.toFixed(2)} µs per frame`)
  }
}

const fixture = await createFixture(AGENTS, PER_AGENT)
const facts = await machineFacts(fixture.databaseUrl)
const allServers = fixture.agents.flatMap(a => a.servers)
const lists = Array.from({ length: PANELS }, (_, i) => Array.from({ length: WATCH }, (_, k) => allServers[(i * WATCH + k) % allServers.length] as string))
const hubEnv = { DATABASE_URL: fixture.databaseUrl, HUB_AGENT_KEYS: fixture.agentKeys, HUB_ISSUER: ISSUER, HUB_ADMIN_PASSWORD: ADMIN_PASSWORD, HUB_PANEL_RATE: '1000', HUB_PANEL_BURST: '1000' }
const agents = spawnChild(path.join(import.meta.dirname, 'lib/agent-worker.ts'), {})
const panels = spawnChild(path.join(import.meta.dirname, 'lib/console-panel-worker.ts'), {})

interface Sample { tree: string, idle: number, busy: number, lines: number, received: number, dropped: number, p50: number, p99: number, usPerLine: number }
const samples: Sample[] = []

async function round (tree: { name: string, dir: string }, index: number): Promise<void> {
  const execArgv = args['cpu-prof'] === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${path.resolve(args['cpu-prof'])}`, `--cpu-prof-name=hub-${index}-${tree.name.split(' ')[0] as string}.cpuprofile`]
  const hub = spawnChild<{ url: string }>(path.join(tree.dir, 'bench/lib/hub-process.ts'), { BENCH_HUB: JSON.stringify({ env: hubEnv }) }, execArgv)
  try {
    const { url } = await hub.ready
    const http = httpOf(url)
    const token = await adminToken(http)
    await agents.call('setup', { url, agents: fixture.agents })
    await agents.call('connect', { features: ['console', 'stats'] })
    await panels.call('setup', { token, lists })
    const opened = await panels.call('connect', { url: http }, 300_000)
    if (opened.refused.length > 0) throw new Error(`subscribes refused: ${String(opened.refused[0])}`)
    await sleep(1_000)
    const cpu = async () => (await hub.call('stats')).cpuSeconds as number
    // Idle: the same sockets, heartbeats only.
    let c0 = await cpu()
    let t0 = performance.now()
    await sleep(SECONDS * 1000)
    const idle = (await cpu() - c0) / ((performance.now() - t0) / 1000)
    await agents.call('stream', { linesPerSecond: LINES, statsEveryMs: 0 })
    await sleep(1_000)
    c0 = await cpu()
    t0 = performance.now()
    await agents.call('mark', { record: false })
    await panels.call('mark', { record: true })
    await sleep(SECONDS * 1000)
    const sent = await agents.call('read', {})
    const elapsed = (performance.now() - t0) / 1000
    const busy = (await cpu() - c0) / elapsed
    await agents.call('streamStop')
    await sleep(300)
    const got = await panels.call('read')
    const sorted = (got.samples as number[]).sort((a, b) => a - b)
    const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN
    const s: Sample = {
      tree: tree.name,
      idle,
      busy,
      lines: sent.lines / elapsed,
      received: got.lines / elapsed,
      dropped: got.dropped,
      p50: at(0.5),
      p99: at(0.99),
      usPerLine: (busy - idle) * 1e6 / (sent.lines / elapsed)
    }
    samples.push(s)
    log(`${tree.name}: ${int(s.lines)} lines/s sent, ${int(s.received)}/s received, dropped ${s.dropped}; hub CPU ${idle.toFixed(3)} -> ${busy.toFixed(3)} cores: ${s.usPerLine.toFixed(1)} µs per line; p50 ${ms(s.p50)} p99 ${ms(s.p99)}; load ${loadavg()[0]?.toFixed(2)}`)
    await panels.call('close')
    await agents.call('close')
    await hub.call('close')
  } finally {
    await hub.stop()
  }
}

let report = ''
try {
  await Promise.all([agents.ready, panels.ready])
  for (let r = 0; r < ROUNDS; r++) {
    // Alternate which tree goes first, so neither always runs on a warmer (or busier) machine.
    const order = r % 2 === 0 ? trees : [...trees].reverse()
    for (const tree of order) await round(tree, r)
  }
  const mean = (name: string, k: keyof Sample) => { const xs = samples.filter(s => s.tree === name).map(s => s[k] as number); return xs.reduce((a, b) => a + b, 0) / xs.length }
  const row = (s: Sample) => `| ${s.tree} | ${int(s.lines)} | ${int(s.received)} | ${s.dropped} | ${s.idle.toFixed(3)} | ${s.busy.toFixed(3)} | **${s.usPerLine.toFixed(1)}** | ${ms(s.p50)} | ${ms(s.p99)} |`
  const summary = trees.map(t => `- ${t.name}: mean ${mean(t.name, 'usPerLine').toFixed(1)} µs of hub CPU per console line`).join('\n')
  const ratio = trees.length === 2 ? `\n- ratio this tree / baseline: **×${(mean(trees[0]!.name, 'usPerLine') / mean(trees[1]!.name, 'usPerLine')).toFixed(2)}**` : ''
  const median = (name: string) => { const xs = inproc.filter(x => x.tree === name).map(x => x.us).sort((a, b) => a - b); return xs[Math.floor(xs.length / 2)] ?? NaN }
  const inprocSummary = trees.map(t => `- ${t.name}: median ${median(t.name).toFixed(2)} µs per frame (runs: ${inproc.filter(x => x.tree === t.name).map(x => x.us.toFixed(2)).join(', ')})`).join('\n') +
    (trees.length === 2 ? `\n- ratio this tree / baseline: **×${(median(trees[0]!.name) / median(trees[1]!.name)).toFixed(2)}**` : '')
  report = `# Console path: hub CPU per console line

Measured ${new Date().toISOString()} on ${facts}.
**The hub, PostgreSQL, the agent generator and the panel generator share these cores, on a machine
shared with other work**: only ratios within this run compare.

Command: \`${command}\`.

Setup: ${int(AGENTS)} agents × ${PER_AGENT} servers on one hub (features \`console\`, \`stats\`), ${int(LINES)} console lines/s
offered (one ~80-byte line per frame, no stats, no statuses); ${int(PANELS)} panels each watching ${WATCH} servers' console
(so ${(PANELS * WATCH / (AGENTS * PER_AGENT)).toFixed(1)} panel frames per line on average). ${SECONDS} s per window. CPU per line = (hub CPU
while streaming − hub CPU idle with the same sockets) / lines sent.

## The hub's own code, without sockets

bench/lib/console-path-inproc.ts, ${INPROC} runs per tree, alternating: 400,000 console frames (Buffers, one ~80-byte
line each, 400 servers) through a real agent session (kernel, frame meter, stream budget, decode and
validation) into a real console hub whose 400 watching panels take every frame; CPU time per frame.
No ws, no streams, no syscalls.

${inprocSummary}

## End to end over sockets

${summary}${ratio}

| tree | lines/s sent | lines/s received | dropped | hub CPU idle (cores) | hub CPU streaming | µs per line | p50 | p99 |
| --- | --- | --- | --- | --- | --- | --- | --- | --- |
${samples.map(row).join('\n')}
`
} finally {
  await Promise.all([agents.stop(), panels.stop()])
  await fixture.close()
}
if (args.out !== undefined) await writeFile(path.resolve(root, args.out), report)
process.stdout.write(report)
