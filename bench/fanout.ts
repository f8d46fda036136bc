// Fan-out: 1,000 panels all watching the same 100 busy servers; events delivered per second by
// the hub's panel gateway, by a bare `ws` broadcast of the same frames (one send per client per
// frame), and by a Socket.IO server emitting the same frames to a room, in the same run. Events
// are injected straight into the hub's bus (the path from the bus to the sockets is what is
// measured; the ingest path is bench/panel-push.ts's). Clients live in 2 child processes that only
// count frames. Offered rates step up; a step "keeps up" when >= 95% of offered frames arrive.
// Usage: node bench/fanout.ts [panels=1000] [stepSeconds=3]
import { fork } from 'node:child_process'
import { once } from 'node:events'
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import { cpus, tmpdir, totalmem } from 'node:os'
import path from 'node:path'
import { Server as SocketIOServer } from 'socket.io'
import { WebSocketServer } from 'ws'
import { loadConfig } from '../src/hub/config.ts'
import { startHub } from '../src/hub/start-hub.ts'
import type { HubEvent } from '../src/hub/bus.ts'
import { ADMIN_PASSWORD, adminToken } from './lib/fixture.ts'

const PANELS = Number(process.argv[2] ?? 1_000)
const STEP_S = Number(process.argv[3] ?? 3)
const SERVERS = 100
const PROCS = 2
const RATES = [250, 500, 1_000, 2_000, 4_000] // events/s over the 100 servers
const root = path.resolve(import.meta.dirname, '..')

const dataDir = await mkdtemp(path.join(tmpdir(), 'hub-bench-fanout-'))
await chmod(dataDir, 0o755) // the embedded cluster runs as postgres when we are root
const hub = await startHub({ ...loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'warn', HUB_ADMIN_PASSWORD: ADMIN_PASSWORD, HUB_DATA_DIR: dataDir, HUB_PORT: '0', HUB_PANEL_RATE: '1000', HUB_PANEL_BURST: '1000' }) })
const prisma = hub.app.db.prisma
const admin = await prisma.user.findFirstOrThrow({ where: { username: 'admin' } })
const node = await prisma.node.create({ data: { name: 'bench' } })
const alt = await prisma.alt.findFirstOrThrow()
const servers: string[] = []
for (let i = 0; i < SERVERS; i++) servers.push((await prisma.server.create({ data: { name: `b${i}`, port: 20_000 + i, nodeId: node.id, altId: alt.id, ownerId: admin.id } })).id)
const token = await adminToken(hub.url)

// The same frame bytes for all three: what the hub encodes for a server.status event.
let nextId = 1_000_000
const makeEvent = (i: number): HubEvent => {
  const serverId = servers[i % SERVERS] as string
  return { id: String(nextId++), kind: 'server.status', serverId, nodeId: node.id, data: { serverId, nodeId: node.id, from: 'RUNNING', to: 'STOPPING', seq: i, reason: null }, at: new Date() }
}

// Bare ws and Socket.IO servers in this process, as the hub is.
const bare = new WebSocketServer({ port: 0, perMessageDeflate: false })
await once(bare, 'listening')
const sioHttp = createServer()
const io = new SocketIOServer(sioHttp, { transports: ['websocket'], perMessageDeflate: false })
io.on('connection', s => { s.join('servers') as unknown })
sioHttp.listen(0)
await once(sioHttp, 'listening')

interface Target { name: string, mode: string, url: string, send (events: HubEvent[]): void }
const targets: Target[] = [
  { name: 'hub /panel/v1', mode: 'hub', url: hub.url.replace('http', 'ws') + '/panel/v1', send: events => hub.app.bus.publish(events) },
  {
    name: 'bare ws broadcast',
    mode: 'ws',
    url: `ws://127.0.0.1:${(bare.address() as { port: number }).port}`,
    send: events => {
      for (const e of events) {
        const frame = Buffer.from(JSON.stringify({ type: 'event', eventId: e.id, kind: e.kind, data: e.data, at: e.at }))
        for (const c of bare.clients) c.send(frame, { binary: false })
      }
    }
  },
  {
    name: 'Socket.IO rooms',
    mode: 'sio',
    url: `ws://127.0.0.1:${(sioHttp.address() as { port: number }).port}/socket.io/?EIO=4&transport=websocket`,
    send: events => { for (const e of events) io.to('servers').emit('event', { eventId: e.id, kind: e.kind, data: e.data, at: e.at }) }
  }
]

async function runTarget (target: Target) {
  const children = Array.from({ length: PROCS }, () => fork(path.join(root, 'bench/lib/counting-clients.ts'),
    [target.mode, target.url, String(PANELS / PROCS), token, JSON.stringify(servers)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }))
  const opened = children.map(c => new Promise<void>(resolve => c.on('message', (m: { open?: number }) => { if (m.open === PANELS / PROCS) resolve() })))
  await Promise.race([Promise.all(opened), new Promise((_resolve, reject) => setTimeout(() => reject(new Error(`${target.name}: clients not ready in 60 s`)), 60_000))])
  const count = async () => (await Promise.all(children.map(async c => {
    c.send('count')
    const [m] = await once(c, 'message') as [{ count: number }]
    return m.count
  }))).reduce((a, b) => a + b, 0)
  const steps: Array<{ rate: number, offered: number, delivered: number, elapsed: number, perSecond: number }> = []
  for (const rate of RATES) {
    const before = await count()
    const started = performance.now()
    let sent = 0
    // Every 10 ms, publish what the rate owes so far (batches, as the event feed publishes).
    await new Promise<void>(resolve => {
      const tick = setInterval(() => {
        const elapsed = (performance.now() - started) / 1000
        const owed = Math.min(Math.floor(elapsed * rate), rate * STEP_S) - sent
        if (owed > 0) {
          target.send(Array.from({ length: owed }, (_, i) => makeEvent(sent + i)))
          sent += owed
        }
        if (elapsed >= STEP_S) { clearInterval(tick); resolve() }
      }, 10)
    })
    // The children answer 'count' only after the frames queued before it: wait until all arrived.
    const offered = sent * PANELS
    let delivered = 0
    while ((delivered = await count() - before) < offered && performance.now() - started < (STEP_S + 30) * 1000) await new Promise(resolve => setTimeout(resolve, 50))
    const elapsed = (performance.now() - started) / 1000
    steps.push({ rate, offered, delivered, elapsed, perSecond: Math.round(delivered / elapsed) })
    console.log(`${target.name}: ${rate} events/s offered ${offered}, delivered ${delivered} in ${elapsed.toFixed(2)} s`)
    // Behind by more than half a second: this is the ceiling; a higher step would only queue.
    if (delivered < offered || elapsed > STEP_S + 0.5) break
  }
  for (const c of children) c.send('exit')
  await Promise.all(children.map(async c => await once(c, 'exit')))
  return steps
}

const results: Record<string, Awaited<ReturnType<typeof runTarget>>> = {}
for (const target of targets) results[target.name] = await runTarget(target)

const best = (name: string) => Math.max(...(results[name] ?? []).map(s => s.perSecond), 0)
const lines = [
  '# Fan-out: 1,000 panels on the same 100 busy servers',
  '',
  `Run on ${new Date().toISOString()}, ${cpus().length} × ${cpus()[0]?.model ?? '?'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}. Shared, noisy machine: the hub, PostgreSQL and the client processes (${PROCS}, frame counters on \`ws\`) share these cores.`,
  `${PANELS} connections per system; events injected into the hub's bus (the bus-to-socket path), the same frames sent by a bare \`ws\` broadcast and a Socket.IO room emit. Steps of ${STEP_S} s at rising offered rates; delivered/s = frames delivered / time until the last one arrived; a step that takes over ${STEP_S + 0.5} s is the system's ceiling (the run stops raising there).`,
  '',
  '| system | step (events/s) | offered frames | delivered | seconds | delivered/s |',
  '| --- | --- | --- | --- | --- | --- |',
  ...Object.entries(results).flatMap(([name, steps]) => steps.map(s => `| ${name} | ${s.rate} | ${s.offered} | ${s.delivered} | ${s.elapsed.toFixed(2)} | ${s.perSecond} |`)),
  '',
  `Best delivered frames/s: hub ${best('hub /panel/v1')}, bare ws ${best('bare ws broadcast')}, Socket.IO ${best('Socket.IO rooms')}.`,
  `Hub / Socket.IO = ${(best('hub /panel/v1') / Math.max(1, best('Socket.IO rooms'))).toFixed(2)}× (target >= 1.5×); hub / bare ws = ${(100 * best('hub /panel/v1') / Math.max(1, best('bare ws broadcast'))).toFixed(0)}% (target >= 50%).`,
  ''
]
await writeFile(path.join(root, 'bench/results/fanout.md'), lines.join('\n'))
console.log(lines.join('\n'))
bare.close()
io.close()
await hub.close()
await rm(dataDir, { recursive: true, force: true })
