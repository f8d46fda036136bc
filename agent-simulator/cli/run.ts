/**
 * One simulator run, start to end: a hub (given or started), provisioning, the agent workers and
 * their phases (connect, load, drain), the load drivers, live progress, the correctness check and
 * the report. Whatever fails, the workers and a hub we started are stopped before returning.
 */
import { Worker } from 'node:worker_threads'
import pg from 'pg'
import { createApiClient } from './api-client.ts'
import { apiTransitionSource, checkAckedTransitions, sqlTransitionSource, type TransitionCheck, type Violation } from './correctness.ts'
import { createDrivers } from './drivers.ts'
import { startHubProcess, type HubProcess } from './hub-process.ts'
import type { SimulateOptions } from './options.ts'
import { provision } from './provision.ts'
import { createProgress } from './progress.ts'
import { buildReport, hubVersion, writeReport, type Report } from './report.ts'
import { createAggregator, percentiles, zeroCounters, type Counters } from './stats.ts'
import type { AckedByServer, FromWorker, WorkerAgent, WorkerInit } from './worker-protocol.ts'

const SAMPLE_EVERY_MS = 1000
const FINAL_TIMEOUT_MS = 60_000

export interface RunResult { report: Report, files: { json: string, html: string } }

export async function runSimulation (o: SimulateOptions, out: { write (s: string): unknown, isTTY?: boolean }): Promise<RunResult> {
  const startedAt = new Date()
  const progress = createProgress(out)
  const log = (line: string) => progress.note(line)
  const notes: string[] = []
  let hub: HubProcess | undefined
  const workers: Worker[] = []
  try {
    if (o.hub === undefined) hub = await startHubProcess(log)
    const hubUrl = hub?.url ?? o.hub as string
    const databaseUrl = o.databaseUrl ?? hub?.databaseUrl
    const api = createApiClient(hubUrl)
    await api.login(o.adminUser, hub?.adminPassword ?? o.adminPassword as string)
    const fleet = await provision(api, o, databaseUrl, log)
    notes.push(...fleet.notes)

    const drivers = createDrivers(o)
    for (const d of drivers) {
      if (d.requested !== undefined && d.notRunReason !== undefined) {
        const note = `${d.name} (${d.requested}) NOT RUN: ${d.notRunReason}`
        notes.push(note)
        log(note)
      }
    }

    // Agents are dealt round-robin, so every worker gets a like share of servers and chaos.
    const shares: WorkerAgent[][] = Array.from({ length: o.workers }, () => [])
    fleet.agents.forEach((a, i) => shares[i % o.workers]?.push(a))
    const agg = createAggregator()
    const connected = new Set<number>()
    const finals = new Map<number, { acked: AckedByServer, unackedAtEnd: number }>()
    let failure: Error | undefined
    let wake: () => void = () => {}
    const wsUrl = hubUrl.replace(/^http/, 'ws') + '/agent/v1'
    shares.forEach((agents, worker) => {
      const init: WorkerInit = {
        worker,
        url: wsUrl,
        agents,
        ratePerS: o.rate === undefined ? undefined : o.rate * agents.length / fleet.agents.length,
        dropFraction: o.dropFraction,
        restartFraction: o.restartAgents,
        chaosEveryMs: o.dropEveryS * 1000,
        sampleEveryMs: SAMPLE_EVERY_MS,
        connectConcurrency: o.connectConcurrency
      }
      const w = new Worker(new URL('./agent-worker.ts', import.meta.url), { workerData: init })
      w.on('message', (msg: FromWorker) => {
        if (msg.type === 'failed') failure = new Error(`worker ${worker}: ${msg.message}`)
        else agg.add(msg.sample)
        if (msg.type === 'connected') connected.add(worker)
        if (msg.type === 'final') finals.set(worker, { acked: msg.acked, unackedAtEnd: msg.unackedAtEnd })
        wake()
      })
      w.on('error', (err) => { failure = err; wake() })
      workers.push(w)
    })

    /** Waits until `done()` or a worker failure, redrawing progress every second; bounded. */
    const phaseStart = Date.now()
    let loadStart = phaseStart
    let phase = 'connect'
    let prev: Counters = zeroCounters()
    let prevAt = Date.now()
    const draw = () => {
      // Per second over the time since the last draw, which a busy event loop can stretch past 1 s.
      const perS = Math.max(0.001, (Date.now() - prevAt) / 1000)
      const t = agg.totals
      const last = agg.series(loadStart).at(-1)
      progress.update({
        phase,
        elapsedS: (Date.now() - loadStart) / 1000,
        connected: agg.connected(),
        agents: fleet.agents.length,
        transitionsPerS: (t.transitions - prev.transitions) / perS,
        acksPerS: (t.acks - prev.acks) / perS,
        commands: t.commands,
        eventsPerS: undefined,
        errors: t.errorFrames + t.rejected + t.ackTimeouts + t.connectFailures,
        p99Ms: last?.latency.statusAck?.p99Ms ?? 0
      })
      prev = { ...t }
      prevAt = Date.now()
    }
    const until = async (done: () => boolean, ms: number, what: string) => {
      const deadline = Date.now() + ms
      while (!done()) {
        if (failure !== undefined) throw failure
        if (Date.now() > deadline) throw new Error(`timed out after ${ms / 1000} s waiting for ${what}; errors so far: ${JSON.stringify(agg.errors)}`)
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.min(SAMPLE_EVERY_MS, Math.max(1, deadline - Date.now())))
          wake = () => { clearTimeout(timer); resolve() }
        })
        if (Date.now() - lastDraw >= SAMPLE_EVERY_MS) { draw(); lastDraw = Date.now() }
      }
    }
    let lastDraw = 0
    await until(() => connected.size === workers.length, 60_000 + fleet.agents.length * 20, 'agents to connect')
    const connectS = (Date.now() - phaseStart) / 1000
    log(`${agg.connected()} of ${fleet.agents.length} agents connected in ${connectS.toFixed(1)} s over ${o.workers} worker threads`)

    const ctx = { api, hubUrl, agents: fleet.agents, log }
    for (const d of drivers) if (d.requested !== undefined && d.notRunReason === undefined) await d.start(ctx)
    for (const w of workers) w.postMessage({ type: 'load' })
    loadStart = Date.now()
    const cpuAtLoad = process.cpuUsage()
    phase = 'load'
    prev = { ...agg.totals }
    const loadEnd = loadStart + o.durationS * 1000
    await until(() => Date.now() >= loadEnd, o.durationS * 1000 + 5000, 'the load phase')
    const loadS = (Date.now() - loadStart) / 1000
    const loadCpu = process.cpuUsage(cpuAtLoad)
    phase = 'drain'
    for (const d of drivers) await d.stop()
    for (const w of workers) w.postMessage({ type: 'stop' })
    const drainStart = Date.now()
    await until(() => finals.size === workers.length, FINAL_TIMEOUT_MS, 'workers to drain and close')
    const drainS = (Date.now() - drainStart) / 1000
    draw()
    progress.done()

    const acked: AckedByServer = Object.assign({}, ...[...finals.values()].map((f) => f.acked))
    const unackedAtEnd = [...finals.values()].reduce((n, f) => n + f.unackedAtEnd, 0)
    log(`checking ${agg.totals.acks} acked transitions against the ${databaseUrl === undefined ? 'API' : 'database'}...`)
    const transitions = await checkTransitions(acked, databaseUrl, api)
    const driverViolations: Violation[] = []
    for (const d of drivers) if (d.notRunReason === undefined && d.requested !== undefined) driverViolations.push(...await d.verify())

    const cpu = process.cpuUsage() // the whole process: main thread and every worker
    const report = buildReport({
      startedAt,
      finishedAt: new Date(),
      options: o,
      hubUrl,
      startedHub: hub !== undefined,
      hubVersion: await hubVersion(),
      workers: workers.length,
      cpu: { userUs: cpu.user, systemUs: cpu.system },
      loadCpu: { userUs: loadCpu.user, systemUs: loadCpu.system },
      perWorkerCpu: agg.workerCpu(),
      phases: { connectS: round(connectS), loadS: round(loadS), drainS: round(drainS) },
      totals: agg.totals,
      histograms: agg.overall,
      notMeasured: {
        statusEvent: 'no panel driver ran (the panel client is not part of the simulator yet)',
        actionCommand: 'no action driver ran (the actions driver is not part of the simulator yet)',
        actionSucceeded: 'no action driver ran (the actions driver is not part of the simulator yet)'
      },
      series: agg.series(loadStart),
      errors: agg.errors,
      drivers: drivers.map((d) => ({ name: d.name, requested: d.requested, ran: d.requested !== undefined && d.notRunReason === undefined, notRunReason: d.notRunReason })),
      transitions,
      unackedAtEnd,
      driverViolations,
      notes
    })
    const files = await writeReport(o.reportDir, report)
    const ack = percentiles(agg.overall.statusAck)
    log(`${report.passed ? 'PASSED' : 'FAILED'}: ${report.rates.transitionsPerS} transitions/s, ${report.rates.acksPerS} acks/s, ack p50 ${ack.p50Ms} ms p99 ${ack.p99Ms} ms, ` +
      `${report.violations.length} violations, simulator CPU ${report.simulator.loadCoresUsed} cores during load; report: ${files.html}`)
    return { report, files }
  } finally {
    await Promise.all(workers.map(async (w) => await w.terminate()))
    await hub?.stop()
  }
}

const round = (n: number) => Math.round(n * 100) / 100

async function checkTransitions (acked: AckedByServer, databaseUrl: string | undefined, api: ReturnType<typeof createApiClient>): Promise<TransitionCheck | { skipped: string }> {
  if (databaseUrl !== undefined) {
    const pool = new pg.Pool({ connectionString: databaseUrl, max: 2 })
    try {
      return await checkAckedTransitions(acked, sqlTransitionSource(pool))
    } finally {
      await pool.end()
    }
  }
  try {
    return await checkAckedTransitions(acked, apiTransitionSource(api))
  } catch (err) {
    // A hub without GET /api/servers/:id/transitions cannot be checked without its database: say so.
    return { skipped: `no --database-url and the API check failed: ${(err as Error).message}` }
  }
}
