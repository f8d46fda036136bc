// A hub in a process of its own (so RSS and CPU figures are the hub's alone): buildHub over the
// benchmark's database, listening on a free port. Options come in BENCH_HUB as JSON:
// { env: {HUB_*: ...}, ingest?: IngestTuning }. Answers `stats`, `panels`, `gc` and `close` over IPC.
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { Writable } from 'node:stream'
import pino from 'pino'
import { buildHub } from '../../src/hub/build-hub.ts'
import { loadConfig } from '../../src/hub/config.ts'
import { listenBacklog } from '../../src/hub/listen-backlog.ts'
import type { IngestTuning } from '../../src/hub/plugins/agent-gateway.ts'
import { serve } from './rpc.ts'

const options = JSON.parse(process.env.BENCH_HUB ?? '{}') as { env: Record<string, string>, ingest?: IngestTuning }
const config = loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'warn', HUB_PORT: '0', ...options.env })

// Warnings and errors are counted by message (a failed hello, a failed batch), not printed.
const logged: Record<string, number> = {}
const counter = new Writable({
  write (chunk: Buffer, _enc, done) {
    for (const line of chunk.toString().split('\n')) {
      if (line === '') continue
      const msg = (JSON.parse(line) as { msg?: string }).msg ?? '?'
      logged[msg] = (logged[msg] ?? 0) + 1
    }
    done()
  }
})
const app = await buildHub({ config, logger: pino({ level: config.logLevel }, counter), ingest: options.ingest })
// HUB_PORT (0 by default) and HUB_LISTEN_BACKLOG as the hub command has them: the restart storm
// (bench/lib/restart-storm.ts) starts a new hub on the port of the one it stopped.
const backlog = await listenBacklog(config.listenBacklog)
const url = await app.listen({ host: '127.0.0.1', port: config.port, backlog })

// The deepest queue for a pool connection (a wait can only grow when someone asks for one), and
// how long each checkout holds its connection: for the ingest, that is one batch's transaction.
const pool = app.db.pool
let maxWaiting = 0
let holds: number[] = []
const connect = pool.connect.bind(pool) as (...args: unknown[]) => unknown
;(pool as unknown as { connect: (...args: unknown[]) => unknown }).connect = (...args: unknown[]) => {
  const result = connect(...args)
  if (pool.waitingCount > maxWaiting) maxWaiting = pool.waitingCount
  if (result instanceof Promise) {
    result.then((client: { release: (err?: unknown) => void }) => {
      const since = performance.now()
      const release = client.release
      client.release = (err?: unknown) => {
        client.release = release
        if (holds.length < 1_000_000) holds.push(performance.now() - since)
        release.call(client, err)
      }
    }, () => {})
  }
  return result
}

// Close codes the hub gave panel connections (1008 too slow, 4408 heartbeat lost, ...): the
// transport of every panel connection is wrapped as it opens.
const panelCloses: Record<string, number> = {}
const open = app.panels.open.bind(app.panels)
// The transport is a class instance (plugins/ws-transport.ts): wrap its `close` in place (a
// spread copy would lose the prototype's methods).
app.panels.open = (auth, transport, log) => {
  const close = transport.close.bind(transport)
  transport.close = (code, reason) => {
    panelCloses[`${code} ${reason}`] = (panelCloses[`${code} ${reason}`] ?? 0) + 1
    close(code, reason)
  }
  return open(auth, transport, log)
}

const gc = globalThis.gc as () => void
const stats = () => {
  const cpu = process.cpuUsage()
  return {
    rss: process.memoryUsage.rss(),
    heapUsed: process.memoryUsage().heapUsed,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    agents: app.agents.size(),
    pool: { total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount, maxWaiting, max: config.dbPoolMax },
    logged
  }
}

// Event-loop delay inside the hub (bench/login.ts): sampled every 10 ms between `loopStart` and `loopRead`.
let loop = monitorEventLoopDelay({ resolution: 10 })

serve({
  stats,
  loopStart () {
    loop.disable()
    loop = monitorEventLoopDelay({ resolution: 10 })
    loop.enable()
  },
  /** Event-loop delay in ms since `loopStart`: p50, p99, max. */
  loopRead () {
    loop.disable()
    return { p50: loop.percentile(50) / 1e6, p99: loop.percentile(99) / 1e6, max: loop.max / 1e6, samples: loop.count }
  },
  resetMaxWaiting () { maxWaiting = 0 },
  /** Console relay (src/hub/console/console-relay.ts): lines dropped on the way to other hubs. */
  console () { return { relayDropped: app.consoleRelay.dropped, drops: { ...app.consoleRelay.drops }, sent: { ...app.consoleRelay.sent }, links: app.consoleLinks.open } },
  /** Connection hold times (ms) since the last call, and resets them. */
  holds () {
    const out = holds
    holds = []
    return out
  },
  /** Panel connections: how many, how many are coalescing (over the high-water mark), the most
   *  bytes any one has buffered, and the send-path state of the one watching the most servers. */
  panels () {
    const sessions = app.panels.sessions()
    let widest: (typeof sessions)[number] | undefined
    for (const s of sessions) if (widest === undefined || s.serverIds().length > widest.serverIds().length) widest = s
    const all = sessions.map(s => s.stats())
    return {
      count: sessions.length,
      overflowed: all.filter(s => s.overflowed).length,
      maxBuffered: Math.max(0, ...all.map(s => s.buffered)),
      closes: panelCloses,
      widest: widest === undefined ? null : { servers: widest.serverIds().length, ...widest.stats() }
    }
  },
  async gc () {
    gc()
    await new Promise(resolve => setTimeout(resolve, 300))
    gc()
    return stats()
  },
  async close () { await app.close() }
}, { url: url.replace('http', 'ws') + '/agent/v1', pid: process.pid, backlog })
