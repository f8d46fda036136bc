/**
 * The run's report: one JSON document with every figure (what a CI gate or a later comparison
 * reads) and, from it alone, a self-contained HTML page (report-html.ts). buildReport is pure:
 * everything it needs is passed in, so tests can check the shape without a run.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { cpus, freemem, platform, release, totalmem } from 'node:os'
import path from 'node:path'
import type { TransitionCheck, Violation } from './correctness.ts'
import type { SimulateOptions } from './options.ts'
import { renderHtml } from './report-html.ts'
import type { Report, Threshold } from './report-types.ts'
import {
  LATENCIES, LATENCY_TITLES, buckets, percentileCurve, percentiles, type Counters, type Histogram, type LatencyName,
  type SecondStats
} from './stats.ts'

export type { LatencyReport, Report, Threshold } from './report-types.ts'

export interface ReportInput {
  startedAt: Date
  finishedAt: Date
  options: SimulateOptions
  hubUrl: string
  startedHub: boolean
  hubVersion: string
  workers: number
  cpu: { userUs: number, systemUs: number }
  loadCpu: { userUs: number, systemUs: number }
  perWorkerCpu: Array<{ worker: number, userUs: number, systemUs: number }>
  phases: Report['phases']
  totals: Counters
  driverTotals: Record<string, number>
  /** Internal errors seen and what they are out of (statuses sent plus actions posted). */
  internalErrors: { errors: number, outOf: number }
  histograms: Record<LatencyName, Histogram>
  notMeasured: Partial<Record<LatencyName, string>>
  series: SecondStats[]
  errors: Record<string, number>
  drivers: Report['drivers']
  transitions: TransitionCheck | { skipped: string }
  unackedAtEnd: number
  driverViolations: Violation[]
  notes: string[]
}

export function buildReport (input: ReportInput): Report {
  const o = input.options
  const loadS = Math.max(input.phases.loadS, 0.001)
  const dt = input.driverTotals
  const rates = {
    transitionsPerS: round(input.totals.transitions / loadS),
    acksPerS: round(input.totals.acks / loadS),
    panelEventsPerS: round((dt.events ?? 0) / loadS),
    actionsPerS: round((dt.actionsPosted ?? 0) / loadS),
    errorRate: input.internalErrors.outOf === 0 ? 0 : Math.round(input.internalErrors.errors / input.internalErrors.outOf * 1e6) / 1e6
  }
  const latency = {} as Report['latency']
  for (const name of LATENCIES) {
    const h = input.histograms[name]
    latency[name] = h.totalCount > 0
      ? { title: LATENCY_TITLES[name], ...percentiles(h), histogram: buckets(h), curve: percentileCurve(h) }
      : { title: LATENCY_TITLES[name], measured: false, why: input.notMeasured[name] ?? 'nothing was recorded' }
  }
  const thresholds: Threshold[] = []
  const ack = latency.statusAck
  if (o.maxP99Ms !== undefined) {
    const actual = 'p99Ms' in ack ? ack.p99Ms : Infinity
    thresholds.push({ name: 'status→ack p99 (ms) at most', limit: o.maxP99Ms, actual, met: actual <= o.maxP99Ms })
  }
  if (o.minRate !== undefined) {
    thresholds.push({ name: 'acked transitions/s at least', limit: o.minRate, actual: rates.acksPerS, met: rates.acksPerS >= o.minRate })
  }
  thresholds.push({ name: 'internal error rate at most', limit: o.maxErrorRate, actual: rates.errorRate, met: rates.errorRate <= o.maxErrorRate })
  const violations = [...('violations' in input.transitions ? input.transitions.violations : []), ...input.driverViolations]
  // A run that measured nothing (no agent connected, or the hub acked nothing) must not pass.
  if (input.totals.acks === 0) violations.push({ kind: 'no-load', message: `no status was acked (${input.totals.transitions} sent, ${input.totals.connectFailures} failed connects)` })
  const failedCheck = 'missing' in input.transitions && (input.transitions.missing > 0 || input.transitions.wrongStatus > 0)
  const wallS = (input.finishedAt.getTime() - input.startedAt.getTime()) / 1000
  const { adminPassword: _pw, databaseUrl, ...safeOptions } = o
  return {
    tool: 'agent-simulator',
    reportVersion: 1,
    startedAt: input.startedAt.toISOString(),
    finishedAt: input.finishedAt.toISOString(),
    passed: thresholds.every((t) => t.met) && violations.length === 0 && !failedCheck,
    options: { ...safeOptions, databaseUrlGiven: databaseUrl !== undefined },
    hub: { url: input.hubUrl, startedBySimulator: input.startedHub, version: input.hubVersion },
    machine: machineFacts(),
    simulator: {
      workers: input.workers,
      wallS: round(wallS),
      cpuUserS: round(input.cpu.userUs / 1e6),
      cpuSystemS: round(input.cpu.systemUs / 1e6),
      coresUsed: round((input.cpu.userUs + input.cpu.systemUs) / 1e6 / Math.max(wallS, 0.001)),
      loadCoresUsed: round((input.loadCpu.userUs + input.loadCpu.systemUs) / 1e6 / loadS),
      perWorker: input.perWorkerCpu.map((w) => ({ worker: w.worker, cpuUserS: round(w.userUs / 1e6), cpuSystemS: round(w.systemUs / 1e6) }))
    },
    phases: input.phases,
    totals: input.totals,
    rates,
    driverTotals: dt,
    latency,
    series: input.series,
    errors: input.errors,
    drivers: input.drivers,
    correctness: { transitions: input.transitions, unackedAtEnd: input.unackedAtEnd },
    thresholds,
    violations,
    notes: input.notes
  }
}

const round = (n: number) => Math.round(n * 100) / 100

export function machineFacts (): Report['machine'] {
  const list = cpus()
  return {
    cpuModel: list[0]?.model.trim() ?? 'unknown',
    cores: list.length,
    totalMemoryBytes: totalmem(),
    freeMemoryBytes: freemem(),
    platform: platform(),
    release: release(),
    node: process.version
  }
}

/** The hub's version: its package.json, which this repository shares with the simulator. */
export async function hubVersion (): Promise<string> {
  const pkg = JSON.parse(await readFile(path.resolve(import.meta.dirname, '../../package.json'), 'utf8')) as { version?: string }
  return pkg.version ?? 'unknown'
}

export async function writeReport (dir: string, report: Report): Promise<{ json: string, html: string }> {
  await mkdir(dir, { recursive: true })
  const json = path.join(dir, 'report.json')
  const html = path.join(dir, 'report.html')
  await writeFile(json, JSON.stringify(report, null, 2) + '\n')
  await writeFile(html, renderHtml(report))
  return { json, html }
}
