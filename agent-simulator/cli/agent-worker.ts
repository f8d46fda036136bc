/**
 * One worker thread's share of the fleet. A `ws` client saturates its own core long before the hub
 * does, so the agents are partitioned over threads; each runs its agents' lifecycles, its share of
 * the chaos and of a fixed rate, and ships a stats sample to the main thread every second.
 *
 * Phases, driven by the main thread: connect (ramped, `connectConcurrency` at a time, so a large
 * fleet does not stampede the hub's hello path) -> 'load' -> 'stop' (no new statuses; wait a bounded
 * time for the acks in flight; close every agent) -> the final message with every acked transition,
 * which the correctness check looks for in the database.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { createAgentClient, type AgentClient, AgentClientError } from '../agent-client.ts'
import type { AgentStatus, HelloServer } from '../../src/agent-protocol/index.ts'
import { commandDelayMs } from './action-ledger.ts'
import { cycleStep, realisticStep, type Step } from './lifecycle.ts'
import { chatterLine, commandLine, OUTPUT_EVERY_MS, SIM_FEATURES, statsSample, transitionLines } from './sim-output.ts'
import { encodeHistogram, newHistogram, recordMs, zeroCounters, type LatencyName, type WorkerSample } from './stats.ts'
import type { AckedByServer, FromWorker, ToWorker, WorkerInit } from './worker-protocol.ts'

const init = workerData as WorkerInit
const port = parentPort
if (port === null) throw new Error('agent-worker.ts runs as a worker thread')

interface SimServer {
  id: string
  agent: SimAgent
  status: AgentStatus
  /** Realistic mode: the next step and when (performance.now()) it is due. */
  step: Step | undefined
  nextAt: number
  inflight: number
  /** performance.now() of the last move to RUNNING (uptime in stats). */
  runningSince: number
}
interface SimAgent { index: number, client: AgentClient, servers: SimServer[], ready: boolean }

const TICK_MS = 20
const MAX_INFLIGHT_PER_SERVER = 8
const DRAIN_MS = 10_000

let counters = zeroCounters()
let errors: Record<string, number> = {}
const hist = { statusAck: newHistogram() }
const acked: AckedByServer = {}
const agents: SimAgent[] = []
const servers: SimServer[] = []
let loading = false
let inflightTotal = 0
/** Commands received since the last sample: [commandId, epoch ms], for POST → command latency. */
let commandsSeen: Array<[string, number]> = []
const commandTimers = new Set<NodeJS.Timeout>()

const countError = (code: string) => { errors[code] = (errors[code] ?? 0) + 1 }
/** Realistic mode: the servers print console lines and report stats (sim-output.ts). */
const withOutput = init.ratePerS === undefined

function makeClient (agent: SimAgent, token: string, hello: HelloServer[]): AgentClient {
  return createAgentClient({
    url: init.url,
    token,
    servers: hello,
    agentVersion: 'agent-simulator',
    ...(withOutput || init.consoleRate > 0 || init.statsIntervalMs > 0 ? { features: SIM_FEATURES } : {}),
    ackTimeoutMs: 30_000,
    onAck: (ms, ack, status) => {
      counters.acks++
      recordMs(hist.statusAck, ms)
      const list = (acked[ack.serverId] ??= { seqs: [], statuses: [] })
      list.seqs.push(ack.seq)
      list.statuses.push(status)
    },
    onErrorFrame: (frame) => { counters.errorFrames++; countError(`hub:${frame.code}`) },
    onWelcome: () => { agent.ready = true },
    onClose: () => { agent.ready = false },
    onReconnect: () => { counters.reconnects++ },
    onCommand: async (cmd) => {
      if (withOutput && cmd.action === 'COMMAND' && cmd.input !== undefined) agent.client.sendConsole(cmd.serverId, [commandLine(cmd.input)])
      return await runCommand(cmd.commandId, cmd.action)
    }
  })
}

/**
 * A command as a real agent carries it out: the client acks at once; the result follows after a
 * delay that depends on the action (seconds for a start), and a share (--command-failures) fail.
 * The server's own lifecycle is left alone: the hub does not tie an action's outcome to statuses.
 */
async function runCommand (commandId: string, action: string): Promise<{ ok: boolean, error?: { code: string, message: string } }> {
  counters.commands++
  commandsSeen.push([commandId, performance.timeOrigin + performance.now()])
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => { commandTimers.delete(timer); resolve() }, commandDelayMs(action))
    commandTimers.add(timer)
  })
  if (Math.random() < init.commandFailure) return { ok: false, error: { code: 'SIM_FAILURE', message: `simulated ${action} failure` } }
  return { ok: true }
}

for (const [i, spec] of init.agents.entries()) {
  const agent: SimAgent = { index: i, client: undefined as unknown as AgentClient, servers: [], ready: false }
  agent.client = makeClient(agent, spec.token, spec.servers)
  for (const s of spec.servers) {
    const server: SimServer = { id: s.serverId, agent, status: s.status as AgentStatus, step: undefined, nextAt: 0, inflight: 0, runningSince: performance.now() }
    agent.servers.push(server)
    servers.push(server)
  }
  agents.push(agent)
}

async function connectAll (): Promise<void> {
  let next = 0
  const lane = async () => {
    while (next < agents.length) {
      const agent = agents[next++] as SimAgent
      // connect() is one attempt; a refused first attempt is retried a few times with a pause.
      for (let attempt = 0; ; attempt++) {
        try {
          await agent.client.connect()
          break
        } catch (err) {
          counters.connectFailures++
          countError(`connect:${(err as AgentClientError).code ?? 'ERROR'}`)
          if (attempt >= 4) break
          await new Promise((resolve) => setTimeout(resolve, 250 * (attempt + 1)))
        }
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(init.connectConcurrency, agents.length) }, lane))
}

function send (server: SimServer, to: AgentStatus, reason: string): boolean {
  let promise
  try {
    promise = server.agent.client.report(server.id, to, reason)
  } catch (err) {
    counters.skipped++
    countError(`local:${(err as AgentClientError).code ?? 'ERROR'}`)
    return false
  }
  server.status = to
  if (withOutput) {
    if (to === 'RUNNING') server.runningSince = performance.now()
    server.agent.client.sendConsole(server.id, transitionLines(to, reason))
  }
  server.inflight++
  inflightTotal++
  counters.transitions++
  promise.then(() => {}, (err: AgentClientError) => {
    if (err.code === 'ACK_TIMEOUT') counters.ackTimeouts++
    else counters.rejected++
    countError(`status:${err.code}`)
  }).finally(() => { server.inflight--; inflightTotal-- })
  return true
}

// Realistic mode: each server waits out its current step, spread at start so they do not move in step.
let cursor = 0
let budget = 0
let lastTick = performance.now()
function tick (): void {
  const now = performance.now()
  const dt = now - lastTick
  lastTick = now
  if (!loading) return
  streams(dt)
  if (init.ratePerS === undefined) {
    for (const s of servers) {
      if (s.nextAt > now || s.step === undefined) continue
      if (s.inflight >= MAX_INFLIGHT_PER_SERVER || !send(s, s.step.to, s.step.reason)) {
        s.nextAt = now + 1000 // backpressure: try the same step again a little later
        continue
      }
      s.step = realisticStep(s.status)
      s.nextAt = now + s.step.delayMs
    }
    return
  }
  // Rate mode: a token budget refilled at this worker's share of the rate, spent round-robin on
  // servers whose agent is connected and not too far behind on acks (the hub's backpressure).
  budget = Math.min(budget + init.ratePerS * dt / 1000, init.ratePerS) // at most 1 s of catch-up
  let tries = 0
  while (budget >= 1 && tries < servers.length) {
    const s = servers[cursor] as SimServer
    cursor = (cursor + 1) % servers.length
    tries++
    if (!s.agent.ready || s.inflight >= MAX_INFLIGHT_PER_SERVER) continue
    if (send(s, cycleStep(s.status), 'rate')) budget--
  }
  if (budget >= 1 && tries >= servers.length) counters.skipped += Math.floor(budget)
}

/**
 * Realistic mode: every running server reports stats, and now and then prints a line, like a game
 * would. A measured stream (--console-rate, --stats-interval, below) replaces its part of this.
 */
function output (): void {
  if (!loading) return
  const now = performance.now()
  for (const s of servers) {
    if (s.status !== 'RUNNING' || !s.agent.ready) continue
    if (init.statsIntervalMs === 0) s.agent.client.sendStats({ serverId: s.id, ...statsSample(Math.random, Math.round(now - s.runningSince)) })
    const line = init.consoleRate === 0 ? chatterLine(Math.random) : undefined
    if (line !== undefined) s.agent.client.sendConsole(s.id, [line])
  }
}

/**
 * Console lines and stats (--console-rate, --stats-interval), round-robin over the servers whose
 * agent is ready, one line per frame. A line carries its send time as
 * performance.timeOrigin + performance.now(), the clock the panel client stamps receipt with
 * (the same in every thread of the process); its per-server seq lets panels count lost lines.
 */
let lineBudget = 0
let statsBudget = 0
let lineCursor = 0
let statsCursor = 0
const lineSeq = new Map<string, number>()
function streams (dt: number): void {
  const spend = (perS: number, budget: number, cursor: number, one: (s: SimServer) => boolean): [number, number] => {
    if (perS <= 0 || servers.length === 0) return [0, cursor]
    budget = Math.min(budget + perS * dt / 1000, perS)
    for (let tries = 0; budget >= 1 && tries < servers.length; tries++) {
      const s = servers[cursor] as SimServer
      cursor = (cursor + 1) % servers.length
      if (s.agent.ready && one(s)) budget--
    }
    return [budget, cursor]
  }
  ;[lineBudget, lineCursor] = spend(init.consoleRate * servers.length, lineBudget, lineCursor, (s) => {
    const seq = (lineSeq.get(s.id) ?? 0) + 1
    if (!s.agent.client.sendConsole(s.id, [`sim ${seq} ${(performance.timeOrigin + performance.now()).toFixed(3)}`])) return false
    lineSeq.set(s.id, seq)
    counters.consoleLinesSent++
    return true
  })
  ;[statsBudget, statsCursor] = spend(init.statsIntervalMs > 0 ? servers.length * 1000 / init.statsIntervalMs : 0, statsBudget, statsCursor, (s) => {
    if (!s.agent.client.sendStats({ serverId: s.id, cpuPercent: 10 + Math.random() * 20, memoryBytes: 512 * 2 ** 20, uptimeMs: Math.round(performance.now()) })) return false
    counters.statsSent++
    return true
  })
}

function chaos (): void {
  if (!loading) return
  const pick = (fraction: number) => agents.filter(() => Math.random() < fraction)
  for (const agent of pick(init.dropFraction)) {
    if (agent.ready) { agent.client.drop(); counters.drops++ }
  }
  for (const agent of pick(init.restartFraction)) restart(agent)
}

/** A restarted agent process: the old client closes, a new one says hello with the same servers. */
function restart (agent: SimAgent): void {
  const old = agent.client
  const hello = old.snapshot()
  const spec = init.agents[agent.index]
  if (spec === undefined) return
  counters.restarts++
  agent.ready = false
  agent.client = makeClient(agent, spec.token, hello)
  old.close().then(() => agent.client.connect()).catch((err: AgentClientError) => {
    counters.connectFailures++
    countError(`connect:${err.code ?? 'ERROR'}`)
  })
}

function sample (): WorkerSample {
  const histograms: Partial<Record<LatencyName, string>> = {}
  const p99Ms: Partial<Record<LatencyName, number>> = {}
  if (hist.statusAck.totalCount > 0) {
    histograms.statusAck = encodeHistogram(hist.statusAck)
    p99Ms.statusAck = Math.round(hist.statusAck.getValueAtPercentile(99)) / 1000
  }
  hist.statusAck.reset()
  const cpu = process.threadCpuUsage()
  const s: WorkerSample = {
    worker: init.worker,
    at: Date.now(),
    connected: agents.reduce((n, a) => n + (a.ready ? 1 : 0), 0),
    counters,
    errors,
    histograms,
    p99Ms,
    cpuUserUs: cpu.user,
    cpuSystemUs: cpu.system
  }
  if (commandsSeen.length > 0) s.commandsSeen = commandsSeen
  commandsSeen = []
  counters = zeroCounters()
  errors = {}
  return s
}

const post = (msg: FromWorker) => port.postMessage(msg)
const ticker = setInterval(tick, TICK_MS)
const sampler = setInterval(() => post({ type: 'sample', sample: sample() }), init.sampleEveryMs)
const outputTimer = withOutput ? setInterval(output, OUTPUT_EVERY_MS) : undefined
const chaosTimer = init.dropFraction > 0 || init.restartFraction > 0 ? setInterval(chaos, init.chaosEveryMs) : undefined

port.on('message', (msg: ToWorker) => {
  if (msg.type === 'load') {
    const now = performance.now()
    // Spread the first realistic step over its whole delay, so servers do not all move at once.
    for (const s of servers) {
      s.step = realisticStep(s.status)
      s.nextAt = now + Math.random() * s.step.delayMs
    }
    lastTick = now
    loading = true
  } else if (msg.type === 'stop') {
    loading = false
    stop().catch((err: unknown) => post({ type: 'failed', message: String(err) }))
  }
})

async function stop (): Promise<void> {
  clearInterval(chaosTimer)
  clearInterval(outputTimer)
  // Bounded drain: statuses still unacked after it are simply not counted as acked.
  const deadline = performance.now() + DRAIN_MS
  // inflightTotal drops as acks arrive, between the loop's awaits.
  // eslint-disable-next-line no-unmodified-loop-condition
  while (inflightTotal > 0 && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50))
  clearInterval(ticker)
  clearInterval(sampler)
  for (const timer of commandTimers) clearTimeout(timer)
  await Promise.all(agents.map(async (a) => await a.client.close()))
  post({ type: 'final', sample: sample(), acked, unackedAtEnd: inflightTotal })
}

connectAll().then(() => post({ type: 'connected', sample: sample() }), (err: unknown) => post({ type: 'failed', message: String(err) }))
