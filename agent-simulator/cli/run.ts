/**
 * One simulator run, start to end: a hub (given or started), provisioning, the agent workers and
 * their phases (connect, load, drain), the load drivers, live progress, the correctness check and
 * the report. Whatever fails, the workers and a hub we started are stopped before returning.
 */
import { Worker } from 'node:worker_threads'
import pg from 'pg'
import { createApiClient } from './api-client.ts'
import { apiTransitionSource, checkAckedTransitions, sqlTransitionSource, type TransitionCheck, type Violation } from './correctness.ts'
import { createDrivers, isActive, type DriverVerdict, type LoadDriver } from './drivers.ts'
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
  let drivers: LoadDriver[] = []
  try {
    if (o.hub === undefined) hub = await startHubProcess(log)
    const hubUrl = hub?.url ?? o.hub as string
    const databaseUrl = o.databaseUrl ?? hub?.databaseUrl
    const api = createApiClient(hubUrl)
    await api.login(o.adminUser, hub?.adminPassword ?? o.adminPassword as string)
    const fleet = await provision(api, o, databaseUrl, log)
    notes.push(...fleet.notes)

    drivers = createDrivers(o)
    const active = drivers.filter(isActive)
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
        connectConcurrency: o.connectConcurrency,
        commandFailure: o.commandFailures,
        consoleRate: o.consoleRate,
        statsIntervalMs: o.statsIntervalS * 1000
      }
      const w = new Worker(new URL('./agent-worker.ts', import.meta.url), { workerData: init })
      w.on('message', (msg: FromWorker) => {
        if (msg.type === 'failed') failure = new Error(`worker ${worker}: ${msg.message}`)
        else {
          agg.add(msg.sample)
          for (const [id, at] of msg.sample.commandsSeen ?? []) for (const d of active) d.onCommand?.(id, at)
        }
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
    let driversStarted = false
    let eventsInSample = 0
    let sampledAt = Date.now()
    const sampleDrivers = () => {
      if (!driversStarted) return
      const now = Date.now()
      eventsInSample = 0
      for (const d of active) {
        const sample = d.sample()
        eventsInSample += sample.counters.events ?? 0
        agg.addDriver(now, sample)
      }
      eventsInSample /= Math.max(0.001, (now - sampledAt) / 1000)
      sampledAt = now
    }
    const draw = () => {
      sampleDrivers()
      // Per second over the time since the last draw, which a busy event loop can stretch past 1 s.
      const perS = Math.max(0.001, (Date.now() - prevAt) / 1000)
      const t = agg.totals
      progress.update({
        phase,
        elapsedS: (Date.now() - loadStart) / 1000,
        connected: agg.connected(),
        agents: fleet.agents.length,
        transitionsPerS: (t.transitions - prev.transitions) / perS,
        acksPerS: (t.acks - prev.acks) / perS,
        commands: t.commands,
        eventsPerS: active.some((d) => d.name === 'panels') && driversStarted ? eventsInSample : undefined,
        errors: t.errorFrames + t.rejected + t.ackTimeouts + t.connectFailures,
        p99Ms: agg.latestP99('statusAck') ?? 0
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
    for (const d of active) await d.start(ctx)
    driversStarted = true
    sampledAt = Date.now()
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
    // Drivers settle while the agents still run (accepted actions need them to answer commands).
    let driversDrained = false
    Promise.all(active.map(async (d) => await d.drain())).then(() => { driversDrained = true; wake() }, (err: Error) => { failure = err; wake() })
    await until(() => driversDrained, o.actionDrainS * 1000 + 30_000, 'the load drivers to drain')
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
    const verdicts = new Map<string, DriverVerdict>()
    if (active.length > 0) log(`verifying what the ${active.map((d) => d.name).join(' and ')} saw...`)
    for (const d of active) {
      const verdict = await d.verify(acked)
      verdicts.set(d.name, verdict)
      driverViolations.push(...verdict.violations)
    }
    sampleDrivers()
    const ran = new Set(active.map((d) => d.name))

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
      driverTotals: agg.driverTotals,
      internalErrors: {
        errors: (agg.errors['hub:INTERNAL'] ?? 0) + (agg.driverTotals.actionServerErrors ?? 0),
        outOf: agg.totals.transitions + (agg.driverTotals.actionsPosted ?? 0)
      },
      histograms: agg.overall,
      notMeasured: {
        statusEvent: ran.has('panels') ? 'no status event reached a panel' : 'no panels in this run (--panels)',
        actionCommand: ran.has('actions') ? 'no command reached an agent' : 'no actions in this run (--action-rate)',
        actionSucceeded: ran.has('actions') ? 'no action succeeded' : 'no actions in this run (--action-rate)',
        consoleLine: o.consoleRate === 0 ? 'no console lines in this run (--console-rate)' : ran.has('panels') ? 'no console line reached a panel on the agents\' hub' : 'no panels in this run (--panels)',
        consoleLineCrossHub: o.panelHubs === undefined ? 'no panels on another hub (--panel-hubs)' : o.consoleRate === 0 ? 'no console lines in this run (--console-rate)' : 'no console line reached a panel on another hub'
      },
      series: agg.series(loadStart),
      errors: agg.errors,
      drivers: drivers.map((d) => ({ name: d.name, requested: d.requested, ran: isActive(d), notRunReason: d.notRunReason, details: verdicts.get(d.name)?.details })),
      transitions,
      unackedAtEnd,
      driverViolations,
      notes
    })
    const files = await writeReport(o.reportDir, report)
    const ack = percentiles(agg.overall.statusAck)
    for (const v of report.violations.slice(0, 10)) log(`violation: ${v.kind}: ${v.message}`)
    for (const th of report.thresholds.filter((x) => !x.met)) log(`threshold missed: ${th.name} ${th.limit}, actual ${th.actual}`)
    log(`${report.passed ? 'PASSED' : 'FAILED'}: ${report.rates.transitionsPerS} transitions/s, ${report.rates.acksPerS} acks/s, ack p50 ${ack.p50Ms} ms p99 ${ack.p99Ms} ms, ` +
      (ran.has('panels') ? `panel events ${report.rates.panelEventsPerS}/s (status→event p99 ${percentiles(agg.overall.statusEvent).p99Ms} ms), ` : '') +
      (ran.has('panels') && o.consoleRate > 0
        ? `console line p50 ${percentiles(agg.overall.consoleLine).p50Ms} ms p99 ${percentiles(agg.overall.consoleLine).p99Ms} ms` +
        (o.panelHubs === undefined ? '' : `, cross-hub p99 ${percentiles(agg.overall.consoleLineCrossHub).p99Ms} ms`) +
        `, lost ${agg.driverTotals.consoleLost ?? 0}, dropped ${agg.driverTotals.consoleDropped ?? 0}, `
        : '') +
      (ran.has('actions') ? `actions ${report.rates.actionsPerS}/s (POST→SUCCEEDED p99 ${percentiles(agg.overall.actionSucceeded).p99Ms} ms), ` : '') +
      `${report.violations.length} violations, simulator CPU ${report.simulator.loadCoresUsed} cores during load; report: ${files.html}`)
    return { report, files }
  } finally {
    await Promise.all(drivers.map(async (d) => { await d.stop().catch(() => {}) }))
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
