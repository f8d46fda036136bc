// Push latency: agent `status` sent -> panel `event` received, through the whole path (the
// agent gateway's group-committed ingest, the durable commit with its event row, NOTIFY, the
// event feed's read, the bus, the panel registry's fan-out and the socket). 1,000 panels each
// subscribed to 50 servers, statuses at a fixed 2,000 transitions/s (open loop, round-robin).
// Then the slow reader: one more panel watching every server stops reading for 60 s under the
// same load, and the hub's RSS is followed.
//
// Processes: the hub (bench/lib/hub-process.ts), agent generators (bench/lib/agent-worker.ts) and
// panel generators (bench/lib/panel-worker.ts), each its own process; PostgreSQL embedded. The
// agent puts its send time in the status `reason`; the panel subtracts it from its receive time.
// Both are performance.timeOrigin + performance.now() in their own process: the parent checks
// the processes agree on that clock (IPC round trips) and reports the spread.
//
// Usage: node bench/panel-push.ts [--agents 1000] [--servers 5] [--panels 1000] [--watch 50]
//        [--rate 2000] [--seconds 15] [--warmup 5] [--agent-workers 2] [--panel-workers 2]
//        [--slow-seconds 60] [--profile]   (--profile writes a CPU profile of the hub to bench/results/profiles/)
import { mkdir, writeFile } from 'node:fs/promises'
import { loadavg } from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { ADMIN_PASSWORD, adminToken, createFixture, httpOf, ISSUER, split } from './lib/fixture.ts'
import { cpuSeconds, machineFacts, postgresPids } from './lib/machine.ts'
import { int, mib, ms, percentiles, showCounts, sleep, sumCounts } from './lib/report.ts'
import { clockOffsets, spawnChild, type Child } from './lib/rpc.ts'

const { values: args } = parseArgs({
  options: {
    agents: { type: 'string', default: '1000' },
    servers: { type: 'string', default: '5' },
    panels: { type: 'string', default: '1000' },
    watch: { type: 'string', default: '50' },
    rate: { type: 'string', default: '2000' },
    seconds: { type: 'string', default: '15' },
    warmup: { type: 'string', default: '5' },
    'agent-workers': { type: 'string', default: '2' },
    'panel-workers': { type: 'string', default: '2' },
    'slow-seconds': { type: 'string', default: '60' },
    profile: { type: 'boolean', default: false }
  }
})
const AGENTS = Number(args.agents)
const PER_AGENT = Number(args.servers)
const PANELS = Number(args.panels)
const WATCH = Number(args.watch)
const RATE = Number(args.rate)
const SECONDS = Number(args.seconds)
const WARMUP = Number(args.warmup)
const AGENT_WORKERS = Number(args['agent-workers'])
const PANEL_WORKERS = Number(args['panel-workers'])
const SLOW_S = Number(args['slow-seconds'])
const root = path.resolve(import.meta.dirname, '..')
const command = `node bench/panel-push.ts ${process.argv.slice(2).join(' ')}`.trim()
const log = (msg: string) => process.stderr.write(`[panel-push] ${msg}\n`)
const load = () => loadavg().map(x => x.toFixed(2)).join(' / ')

log(`creating ${AGENTS} nodes × ${PER_AGENT} servers`)
const fixture = await createFixture(AGENTS, PER_AGENT)
const facts = await machineFacts(fixture.databaseUrl)
const allServers = fixture.agents.flatMap(a => a.servers)
// Panel i watches WATCH consecutive servers from i × WATCH (wrapping): every server is watched
// by the same number of panels (PANELS × WATCH / servers).
const lists = Array.from({ length: PANELS }, (_, i) => Array.from({ length: WATCH }, (_, k) => allServers[(i * WATCH + k) % allServers.length] as string))
const fanout = PANELS * WATCH / allServers.length
const profileDir = path.join(root, 'bench/results/profiles')
if (args.profile) await mkdir(profileDir, { recursive: true })

const hub = spawnChild<{ url: string, pid: number }>(path.join(import.meta.dirname, 'lib/hub-process.ts'), {
  BENCH_HUB: JSON.stringify({ env: { DATABASE_URL: fixture.databaseUrl, HUB_AGENT_KEYS: fixture.agentKeys, HUB_ISSUER: ISSUER, HUB_ADMIN_PASSWORD: ADMIN_PASSWORD } })
}, args.profile ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [])
const agentWorkers = Array.from({ length: AGENT_WORKERS }, () => spawnChild(path.join(import.meta.dirname, 'lib/agent-worker.ts'), {}))
const panelWorkers = Array.from({ length: PANEL_WORKERS }, () => spawnChild(path.join(import.meta.dirname, 'lib/panel-worker.ts'), {}))
const workers: Child<unknown>[] = [...agentWorkers, ...panelWorkers]

let report = ''
try {
  const { url: agentUrl } = await hub.ready
  const httpUrl = httpOf(agentUrl)
  await Promise.all(workers.map(async w => await w.ready))
  const token = await adminToken(httpUrl)

  const agentSlices = split(fixture.agents, AGENT_WORKERS)
  await Promise.all(agentWorkers.map(async (w, i) => await w.call('setup', { url: agentUrl, agents: agentSlices[i] })))
  const connected = await Promise.all(agentWorkers.map(async w => await w.call('connect', {})))
  log(`${connected.reduce((n, c) => n + c.connected, 0)} agents connected in ${Math.round(Math.max(...connected.map(c => c.ms)))} ms`)
  const panelSlices = split(lists, PANEL_WORKERS)
  await Promise.all(panelWorkers.map(async (w, i) => await w.call('setup', { url: httpUrl, token, lists: panelSlices[i] })))
  const opened = await Promise.all(panelWorkers.map(async w => await w.call('connect', {}, 300_000)))
  const refused = opened.flatMap(o => o.refused as string[])
  log(`${opened.reduce((n, o) => n + o.panels, 0)} panels subscribed in ${Math.round(Math.max(...opened.map(o => o.ms)))} ms (${refused.length} refused)`)
  if (refused.length > 0) throw new Error(`subscribes refused: ${refused.slice(0, 5).join(', ')}`)

  const offsets = await clockOffsets(workers)
  const spread = Math.max(...offsets) - Math.min(...offsets)
  log(`clock offsets of the workers: ${offsets.map(o => o.toFixed(3)).join(', ')} ms`)

  await Promise.all(agentWorkers.map(async w => await w.call('rate', { perSecond: RATE / AGENT_WORKERS, stamp: true })))
  log(`${RATE}/s: ${WARMUP} s warm-up, then ${SECONDS} s measured`)
  await sleep(WARMUP * 1000)

  // ---- push latency ----
  const load0 = load()
  const a0 = await Promise.all(agentWorkers.map(async w => await w.call('mark', { record: true })))
  const p0 = await Promise.all(panelWorkers.map(async w => await w.call('mark', { record: true })))
  const hub0 = await hub.call('stats')
  const pg0 = await cpuSeconds(await postgresPids(fixture.postmasterPid))
  const t0 = performance.now()
  const rss: number[] = []
  const end = t0 + SECONDS * 1000
  while (performance.now() < end) {
    await sleep(1000)
    rss.push((await hub.call('stats')).rss as number)
  }
  const aReads = await Promise.all(agentWorkers.map(async w => await w.call('read', { samples: true })))
  const pReads = await Promise.all(panelWorkers.map(async w => await w.call('read')))
  const elapsed = (performance.now() - t0) / 1000
  const hub1 = await hub.call('stats')
  const pg1 = await cpuSeconds(await postgresPids(fixture.postmasterPid))
  const load1 = load()
  const push = percentiles(pReads.flatMap(r => r.samples as number[]))
  const ack = percentiles(aReads.flatMap(r => r.samples as number[]))
  const acks = aReads.reduce((n, r) => n + r.acks, 0)
  const delivered = pReads.reduce((n, r) => n + r.events, 0)
  const cpu = {
    hub: (hub1.cpuSeconds - hub0.cpuSeconds) / elapsed,
    pg: (pg1 - pg0) / elapsed,
    agents: aReads.reduce((n, r, i) => n + r.cpuSeconds - a0[i].cpuSeconds, 0) / elapsed,
    panels: pReads.reduce((n, r, i) => n + r.cpuSeconds - p0[i].cpuSeconds, 0) / elapsed
  }
  const panelsState = await hub.call('panels')
  log(`push p50 ${ms(push.p50)} p99 ${ms(push.p99)} max ${ms(push.max)} (${int(push.n)} samples); ack p50 ${ms(ack.p50)} p99 ${ms(ack.p99)}`)

  // ---- slow reader ----
  let slow: { heapBefore: number, heapOver: { s: number, heap: number, buffered: number, coalesced: number } | null, heapAfter: number, hubCloses: Record<string, number>, before: number, max: number, after: number, series: Array<{ s: number, rss: number, buffered: number, coalesced: number, overflowed: boolean, open: boolean }>, state: any, others: ReturnType<typeof percentiles>, closedAt: number | null, baselineSpread: number } | undefined
  if (SLOW_S > 0) {
    await panelWorkers[0]?.call('slowReader', { servers: allServers })
    log(`slow reader watching ${allServers.length} servers; pausing its reads for ${SLOW_S} s`)
    await sleep(2000)
    // The JS heap after a full GC, at three points: before the pause, while the connection is over
    // the mark (the hub holds its buffer and its coalesced events), and at the end. RSS alone also
    // moves with V8's lazy heap growth under this load.
    const heapBefore = (await hub.call('gc')).heapUsed as number
    const before = (await hub.call('stats')).rss as number
    await Promise.all(panelWorkers.map(async w => await w.call('mark', { record: true })))
    await panelWorkers[0]?.call('pause')
    let heapOver: { s: number, heap: number, buffered: number, coalesced: number } | null = null
    const series: NonNullable<typeof slow>['series'] = []
    const s0 = performance.now()
    let closedAt: number | null = null
    while (performance.now() - s0 < SLOW_S * 1000) {
      await sleep(1000)
      const st = await hub.call('stats')
      const pn = await hub.call('panels')
      const open = pn.widest !== null && pn.widest.servers === allServers.length
      if (!open && closedAt === null) closedAt = (performance.now() - s0) / 1000
      series.push({ s: Math.round((performance.now() - s0) / 1000), rss: st.rss, buffered: open ? pn.widest.buffered : 0, coalesced: open ? pn.widest.coalesced : 0, overflowed: open ? pn.widest.overflowed : false, open })
      // Once the mark has been exceeded for 3 s (coalescing at its fullest), the heap once.
      if (heapOver === null && open && series.length >= 3 && series.slice(-3).every(x => x.overflowed)) {
        heapOver = { s: Math.round((performance.now() - s0) / 1000), heap: (await hub.call('gc')).heapUsed as number, buffered: pn.widest.buffered, coalesced: pn.widest.coalesced }
      }
    }
    const heapAfter = (await hub.call('gc')).heapUsed as number
    const others = percentiles((await Promise.all(panelWorkers.map(async w => await w.call('read')))).flatMap(r => r.samples as number[]))
    await panelWorkers[0]?.call('resume')
    await sleep(5000)
    const after = (await hub.call('stats')).rss as number
    const state = await panelWorkers[0]?.call('slowState')
    const hubCloses = (await hub.call('panels')).closes as Record<string, number>
    slow = { heapBefore, heapOver, heapAfter, hubCloses, before, max: Math.max(...series.map(x => x.rss)), after, series, state, others, closedAt, baselineSpread: Math.max(...rss) - Math.min(...rss) }
    log(`slow reader: RSS ${mib(before)} -> max ${mib(slow.max)}; state ${JSON.stringify(state)}`)
  }

  await Promise.all(agentWorkers.map(async w => await w.call('halt')))
  const closes = sumCounts((await Promise.all(agentWorkers.map(async w => await w.call('read', {})))).map(r => r.closes))
  const hubLogged = (await hub.call('stats')).logged
  await Promise.all(workers.map(async w => await w.call('close')))
  await hub.call('close').catch((err: Error) => { log(`hub close failed (${err.message.split('\n')[0]})`) })

  const pass = (ok: boolean) => ok ? 'met' : '**missed**'
  const achieved = acks / elapsed
  report = `# Panel push latency: agent status -> panel event

Measured ${new Date().toISOString()} on ${facts}.
Load average (1 / 5 / 15 min): ${load0} at the start of the measured window, ${load1} at its end.
**The hub (one process), PostgreSQL, ${AGENT_WORKERS} agent generator processes and ${PANEL_WORKERS} panel generator
processes share these cores**, on a shared machine: figures are noisy, and the generators' CPU is
CPU the hub did not get.

Command: \`${command}\` (started under \`flock /tmp/bench.lock\`).

Setup: ${int(AGENTS)} agents (the simulator's agent client) × ${PER_AGENT} servers = ${int(allServers.length)} servers; ${int(PANELS)} panels (the
simulator's panel client, one admin session, header auth) each subscribed to ${WATCH} servers, so every
server is watched by ${fanout} panels and each transition becomes ${fanout} event frames. Statuses at a fixed
${int(RATE)}/s, open loop, round-robin over the servers (each one a legal transition, so each makes
an event); ${WARMUP} s warm-up, then ${SECONDS} s measured. Hub with its default configuration (pool
of 10, high-water mark 1 MiB, stall limit 30 s).

Latency = panel receive time − agent send time. The agent writes its send time into the status
\`reason\` (which the hub carries into the event's \`data.reason\`); the panel reads it on receipt. Both
times are \`performance.timeOrigin + performance.now()\` of their own process; the processes agree on
that clock within ${spread.toFixed(3)} ms (largest difference of the workers' offsets to the parent,
each measured at the fastest of 20 IPC round trips). Every frame received is a sample: a
transition is counted once per panel that receives it, so the percentiles include the fan-out.

## Results

| | value | target | status |
| --- | --- | --- | --- |
| transitions acked/s (achieved) | ${int(achieved)} | ${int(RATE)} | ${pass(achieved >= RATE * 0.97)} |
| event frames received/s (all panels) | ${int(delivered / elapsed)} (expected ≈ ${int(achieved * fanout)}) | | |
| push latency p50 | **${ms(push.p50)}** | ≤ 10 ms | ${pass(push.p50 <= 10)} |
| push latency p90 | ${ms(push.p90)} | | |
| push latency p99 | **${ms(push.p99)}** | ≤ 30 ms | ${pass(push.p99 <= 30)} |
| push latency p99.9 | ${ms(push.p999)} | | |
| push latency max | ${ms(push.max)} | | |
| samples | ${int(push.n)} | | |
| for comparison: status → status.ack (the durable commit alone) p50 / p99 / max | ${ms(ack.p50)} / ${ms(ack.p99)} / ${ms(ack.max)} | | |
| CPU cores busy: hub / PostgreSQL / agent generators / panel generators | ${cpu.hub.toFixed(2)} / ${cpu.pg.toFixed(2)} / ${cpu.agents.toFixed(2)} / ${cpu.panels.toFixed(2)} | | |
| hub RSS during the window (min / max) | ${mib(Math.min(...rss))} / ${mib(Math.max(...rss))} | | |
| panels closed, order violations, resyncs | ${pReads.reduce((n, r) => n + r.closed, 0)}, ${pReads.reduce((n, r) => n + r.orderViolations, 0)}, ${pReads.reduce((n, r) => n + r.resyncs, 0)} | | |
| panel connections over the high-water mark at the end | ${panelsState.overflowed} of ${panelsState.count} (most buffered: ${int(panelsState.maxBuffered)} bytes) | | |
| status reports not sent (a server's 64 unacked were in flight) / agent errors | ${int(aReads.reduce((n, r) => n + r.skipped, 0))} / ${showCounts(sumCounts(aReads.map(r => r.errors)))} | | |
${slow === undefined
    ? ''
    : `
## Slow reader: one panel stops reading for ${SLOW_S} s

Under the same load (${int(RATE)}/s), one more panel subscribes to all ${int(allServers.length)} servers (so about
${int(RATE)} event frames/s, ~230 bytes each, are addressed to it) and then stops reading its socket
(\`socket.pause()\` in the client: the kernel's buffers fill, then the hub's). Hub limits: high-water mark
1 MiB (\`HUB_PANEL_HIGH_WATER_BYTES\`), stall limit 30 s (\`HUB_PANEL_MAX_STALL_MS\`), heartbeat 10 s (\`HUB_HEARTBEAT_MS\`:
a panel not heard from for 2 × that is closed with 4408, and one that does not read does not answer pings). The GCs forced for the
heap figures pause the hub, so they also show in the other panels' latency below.

| | value |
| --- | --- |
| hub RSS just before the pause | ${mib(slow.before)} |
| hub RSS, highest sample during the pause | ${mib(slow.max)} |
| **growth** | **${mib(slow.max - slow.before)}** |
| for scale: hub RSS spread (max − min) over the ${SECONDS} s window without a slow reader | ${mib(slow.baselineSpread)} |
| hub RSS 5 s after the reader resumed | ${mib(slow.after)} |
| hub JS heap after a full GC: before the pause | ${mib(slow.heapBefore)} |
| the same, ${slow.heapOver === null ? 'never over the mark for 3 s' : `${slow.heapOver.s} s in, over the mark (${int(slow.heapOver.buffered)} bytes buffered, ${slow.heapOver.coalesced} events coalesced)`} | ${slow.heapOver === null ? 'n/a' : `${mib(slow.heapOver.heap)} (**${mib(slow.heapOver.heap - slow.heapBefore)}** more)`} |
| the same, at the end of the pause | ${mib(slow.heapAfter)} |
| what the hub did | ${slow.closedAt === null ? 'kept the connection' : `closed the connection about ${slow.closedAt.toFixed(0)} s into the pause`}; close codes the hub gave panels: ${showCounts(slow.hubCloses)}; the reader saw: ${slow.state === null ? '?' : `${int(slow.state.events)} events, ${slow.state.resyncs} resync(s), closed ${slow.state.closed === null ? 'no' : `${slow.state.closed.code} (${slow.state.closed.reason === '' ? 'no close frame read: it was not reading' : slow.state.closed.reason})`}`} |
| push latency of the other ${int(PANELS)} panels during the pause p50 / p99 / max | ${ms(slow.others.p50)} / ${ms(slow.others.p99)} / ${ms(slow.others.max)} |

Per second (hub RSS; the slow connection's bytes buffered in \`ws\`, events held coalesced, over the mark):

| s | RSS | buffered | coalesced | over the mark |
| --- | --- | --- | --- | --- |
${slow.series.map(x => `| ${x.s} | ${mib(x.rss)} | ${x.open ? int(x.buffered) : 'closed'} | ${x.open ? x.coalesced : ''} | ${x.open ? (x.overflowed ? 'yes' : 'no') : ''} |`).join('\n')}
`}
Agent connections closed during the run: ${showCounts(closes)}. Hub warnings/errors logged: ${showCounts(hubLogged)}.
`
} finally {
  await Promise.all(workers.map(async w => await w.stop()))
  await hub.stop()
  await fixture.close()
}
await writeFile(path.join(root, 'bench/results/panel-push.md'), report)
process.stdout.write(report)
