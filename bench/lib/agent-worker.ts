// A load-generator process: holds a slice of the benchmark's agents (the simulator's agent
// client, so each one speaks the full protocol: hello, welcome, acks, heartbeats) or, in `plain`
// mode, bare WebSocket connections for the reference server. Several of these run at once: one
// `ws`-based process saturates its own core long before the hub does, and a process may hold at
// most ~19,900 sockets.
import { monitorEventLoopDelay, performance } from 'node:perf_hooks'
import WebSocket from 'ws'
import { createAgentClient, type AgentClient } from '../../agent-simulator/agent-client.ts'
import { PROTOCOL_VERSION, type AgentStatus } from '../../src/agent-protocol/index.ts'
import type { BenchAgent } from './fixture.ts'
import { serve } from './rpc.ts'

const NEXT: Record<string, AgentStatus> = { STOPPED: 'STARTING', STARTING: 'RUNNING', RUNNING: 'STOPPING', STOPPING: 'STOPPED' }

interface Slot { client: AgentClient, serverId: string, inFlight: number }

let url = ''
let agents: BenchAgent[] = []
const clients: AgentClient[] = []
const plain: WebSocket[] = []
const raw: WebSocket[] = []
let slots: Slot[] = []
let acks = 0
let skipped = 0
let errors: Record<string, number> = {}
const closes: Record<string, number> = {}
let samples: number[] = []
let recording = false
let running: { stop (): void } | undefined
let streaming: { stop (): void } | undefined
/** Console lines and stats sent since `mark`, and those the client refused (not ready). */
let lines = 0
let stats = 0
let unsent = 0
const lineSeq = new Map<string, number>()
/** This process's event-loop delay since `mark` (10 ms samples): a late loop delays the acks it times. */
let loop = monitorEventLoopDelay({ resolution: 10 })
const count = (into: Record<string, number>, key: string) => { into[key] = (into[key] ?? 0) + 1 }

/** The send time as a shared clock reading (ms since the epoch, sub-ms), comparable across processes. */
const clock = () => performance.timeOrigin + performance.now()

/** `stamp`: put the send time in the status `reason` (bench/panel-push.ts reads it in the panels). */
function send (slot: Slot, loop: boolean, stamp = false): boolean {
  const server = slot.client.snapshot().find(s => s.serverId === slot.serverId)
  // The status we go to next follows what the client believes; UNKNOWN/others restart the cycle.
  const to = NEXT[server?.status ?? 'STOPPED'] ?? 'STOPPED'
  let promise
  try {
    promise = slot.client.report(slot.serverId, to, stamp ? clock().toFixed(3) : undefined)
  } catch (err) {
    count(errors, (err as { code?: string }).code ?? 'THROWN')
    return false
  }
  slot.inFlight++
  promise.catch((err: { code?: string }) => { count(errors, err.code ?? 'REJECTED') }).finally(() => {
    slot.inFlight--
    if (loop && running !== undefined) send(slot, true)
  })
  return true
}

serve({
  setup (arg: { url: string, agents: BenchAgent[] }) {
    url = arg.url
    agents = arg.agents
    return agents.length
  },
  /**
   * Every agent at once, or `perSecond` of them per second (a ramp); a failed first connect is
   * retried (as a real agent would), up to 5 times.
   */
  async connect (arg: { plain?: boolean, perSecond?: number, features?: string[] }) {
    const started = performance.now()
    const failures: Record<string, number> = {}
    let slowest = 0
    await Promise.all(agents.map(async (agent, i) => {
      if (arg.perSecond !== undefined) await new Promise(resolve => setTimeout(resolve, i * 1_000 / arg.perSecond!))
      for (let attempt = 0; ; attempt++) {
        try {
          if (arg.plain === true) {
            const ws = new WebSocket(url)
            await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject) })
            ws.on('error', () => {})
            plain.push(ws)
          } else {
            const client = createAgentClient({
              url,
              token: agent.token,
              servers: agent.servers.map(serverId => ({ serverId, status: 'STOPPED' as const, seq: 0 })),
              handshakeTimeoutMs: 60_000,
              ackTimeoutMs: 60_000,
              ...(arg.features === undefined ? {} : { features: arg.features }),
              onAck: ms => { acks++; if (recording) samples.push(ms) },
              onClose: e => { count(closes, String(e.code)) }
            })
            await client.connect()
            clients.push(client)
          }
          slowest = Math.max(slowest, performance.now() - started)
          return
        } catch (err) {
          count(failures, (err as { code?: string }).code ?? 'ERROR')
          if (attempt >= 5) throw err
          await new Promise(resolve => setTimeout(resolve, 200 + Math.random() * 800))
        }
      }
    }))
    slots = clients.flatMap(client => client.snapshot().map(s => ({ client, serverId: s.serverId, inFlight: 0 })))
    return { connected: plain.length + clients.length, failures, ms: performance.now() - started, slowestMs: slowest }
  },
  /**
   * The restart storm (bench/lib/restart-storm.ts): every agent opens its socket at the same
   * moment, with no retry and no jitter, as bare `ws` (the agent client would retry and spread).
   * Per agent: when the upgrade was answered (101) and when `welcome` came, from the call; no
   * answer within `timeoutMs` counts as such. The sockets stay open (ws answers the hub's pings)
   * until `closeRaw` or the hub closes them.
   */
  async storm (arg: { timeoutMs: number }) {
    const t0 = performance.now()
    const upgraded: number[] = []
    const welcomed: number[] = []
    const failures: Record<string, number> = {}
    await Promise.all(agents.map(async agent => await new Promise<void>(resolve => {
      const ws = new WebSocket(url, { headers: { authorization: `Bearer ${agent.token}` } })
      raw.push(ws)
      let answered = false
      let done = false
      const finish = (failure?: string) => {
        if (done) return
        done = true
        clearTimeout(timer)
        if (failure !== undefined) count(failures, failure)
        resolve()
      }
      const timer = setTimeout(() => finish(answered ? 'no welcome in time' : 'no upgrade answer in time'), arg.timeoutMs)
      ws.on('upgrade', () => { answered = true; upgraded.push(performance.now() - t0) })
      ws.on('unexpected-response', (_req, res) => { answered = true; finish(`HTTP ${res.statusCode ?? '?'}`); ws.terminate() })
      ws.on('open', () => ws.send(JSON.stringify({
        type: 'hello', protocol: PROTOCOL_VERSION, agentVersion: 'bench-storm', servers: agent.servers.map(serverId => ({ serverId, status: 'STOPPED', seq: 0 }))
      })))
      ws.on('message', data => {
        if (!done && (JSON.parse(String(data)) as { type?: string }).type === 'welcome') {
          welcomed.push(performance.now() - t0)
          finish()
        }
      })
      ws.on('error', (err: NodeJS.ErrnoException) => finish(err.code ?? 'socket error'))
      ws.on('close', code => finish(answered ? `closed ${code} before welcome` : 'closed before upgrade'))
    })))
    return { upgraded, welcomed, failures, ms: performance.now() - t0 }
  },
  /** Closes the storm's sockets; resolves when all are closed. */
  async closeRaw () {
    await Promise.all(raw.map(async ws => {
      if (ws.readyState === WebSocket.CLOSED) return
      const closed = new Promise(resolve => ws.once('close', resolve))
      ws.terminate()
      await closed
    }))
    raw.length = 0
  },
  /** How many storm sockets are still open (after a hub stop, none should be). */
  rawOpen () { return raw.filter(ws => ws.readyState === WebSocket.OPEN).length },
  /** Closed loop: every server keeps `window` statuses in flight, sending the next on each ack. */
  window (arg: { window: number }) {
    running = { stop () {} }
    for (const slot of slots) for (let i = 0; i < arg.window; i++) send(slot, true)
  },
  /** Open loop at a fixed rate, round-robin over the servers; catches up if a tick ran late. */
  rate (arg: { perSecond: number, stamp?: boolean }) {
    const started = performance.now()
    let sent = 0
    let i = 0
    const timer = setInterval(() => {
      const due = Math.floor(arg.perSecond * (performance.now() - started) / 1000) - sent
      for (let k = 0; k < due; k++) {
        const slot = slots[i++ % slots.length] as Slot
        if (!send(slot, false, arg.stamp === true)) skipped++
        sent++
      }
    }, 2)
    running = { stop: () => clearInterval(timer) }
  },
  /**
   * Console and stats (bench/console.ts): `linesPerSecond` lines over all servers, round-robin, one
   * line per frame, each `<seq> <send time> <padding>` (seq counts per server, so panels find
   * gaps); and one stats frame per server every `statsEveryMs`. A new call replaces the rates.
   */
  stream (arg: { linesPerSecond: number, statsEveryMs: number, padding?: number }) {
    streaming?.stop()
    const started = performance.now()
    const pad = 'x'.repeat(arg.padding ?? 60)
    let sentLines = 0
    let sentStats = 0
    let i = 0
    let j = 0
    const statsPerSecond = arg.statsEveryMs > 0 ? slots.length * 1_000 / arg.statsEveryMs : 0
    const timer = setInterval(() => {
      const elapsed = (performance.now() - started) / 1000
      for (let due = Math.floor(arg.linesPerSecond * elapsed) - sentLines; due > 0; due--, sentLines++) {
        const slot = slots[i++ % slots.length] as Slot
        const seq = (lineSeq.get(slot.serverId) ?? 0) + 1
        if (slot.client.sendConsole(slot.serverId, [`${seq} ${clock().toFixed(3)} ${pad}`])) { lineSeq.set(slot.serverId, seq); lines++ } else unsent++
      }
      for (let due = Math.floor(statsPerSecond * elapsed) - sentStats; due > 0; due--, sentStats++) {
        const slot = slots[j++ % slots.length] as Slot
        if (slot.client.sendStats({ serverId: slot.serverId, cpuPercent: 12.5, memoryBytes: 512 * 2 ** 20, uptimeMs: Math.round(elapsed * 1000), players: 3 })) stats++
        else unsent++
      }
    }, 5)
    streaming = { stop: () => clearInterval(timer) }
  },
  /** Stops the console and stats streams. */
  streamStop () {
    streaming?.stop()
    streaming = undefined
  },
  /** This process's clock (see `clock`), to check that processes agree on it. */
  clock,
  /** Starts a measurement window: counters and samples from now on. */
  mark (arg: { record: boolean }) {
    acks = 0
    skipped = 0
    errors = {}
    samples = []
    lines = 0
    stats = 0
    unsent = 0
    recording = arg.record
    loop.disable()
    loop = monitorEventLoopDelay({ resolution: 10 })
    loop.enable()
    return { cpuSeconds: cpu() }
  },
  read (arg: { samples?: boolean }) {
    // The histogram holds the time between 10 ms samples: the lag is what passes the 10 ms.
    const loopP99 = Math.max(0, loop.percentile(99) / 1e6 - 10)
    return { acks, skipped, errors, closes, lines, stats, unsent, loopP99, cpuSeconds: cpu(), ...(arg.samples === true ? { samples } : {}) }
  },
  /** Stops sending at once, leaving what is in flight. */
  halt () {
    running?.stop()
    running = undefined
    streaming?.stop()
    streaming = undefined
    recording = false
  },
  /** Stops sending and waits (at most 60 s) until every status in flight is settled. */
  async stop () {
    running?.stop()
    running = undefined
    const deadline = Date.now() + 60_000
    while (slots.some(s => s.inFlight > 0) && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 50))
    recording = false
    return { inFlight: slots.reduce((n, s) => n + s.inFlight, 0) }
  },
  async close () {
    await Promise.all(clients.map(async c => { await c.close() }))
    for (const ws of plain) ws.terminate()
    clients.length = 0
    plain.length = 0
  }
})

function cpu (): number {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1e6
}
