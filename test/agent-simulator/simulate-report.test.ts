// The report writer: the JSON carries every section, thresholds and violations decide `passed`,
// and the HTML is one self-contained page with the plots.
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import t from 'tap'
import { parseOptions } from '../../agent-simulator/cli/options.ts'
import { buildReport, writeReport, type ReportInput } from '../../agent-simulator/cli/report.ts'
import { LATENCIES, createAggregator, encodeHistogram, newHistogram, recordMs, zeroCounters } from '../../agent-simulator/cli/stats.ts'

const START = Date.parse('2025-01-01T00:00:00Z')

/** Two workers' samples merged as the run merges them, then a report input around them. */
function input (overrides: Partial<ReportInput> = {}, argv: string[] = []): ReportInput {
  const agg = createAggregator()
  for (let s = 0; s < 5; s++) {
    for (const worker of [0, 1]) {
      const h = newHistogram()
      for (let i = 1; i <= 100; i++) recordMs(h, i * (worker + 1) / 10)
      agg.add({
        worker,
        at: START + s * 1000 + 10,
        connected: 50,
        errors: s === 2 ? { 'hub:ILLEGAL_TRANSITION': 1 } : {},
        counters: { ...zeroCounters(), transitions: 100, acks: 100 },
        histograms: { statusAck: encodeHistogram(h) },
        cpuUserUs: 1e6,
        cpuSystemUs: 2e5
      })
    }
  }
  return {
    startedAt: new Date(START - 2000),
    finishedAt: new Date(START + 6000),
    options: parseOptions(argv, {}),
    hubUrl: 'http://127.0.0.1:1234',
    startedHub: true,
    hubVersion: '0.1.0',
    workers: 2,
    cpu: { userUs: 3e6, systemUs: 1e6 },
    loadCpu: { userUs: 2e6, systemUs: 5e5 },
    perWorkerCpu: agg.workerCpu(),
    phases: { connectS: 1, loadS: 5, drainS: 0.5 },
    totals: agg.totals,
    driverTotals: agg.driverTotals,
    internalErrors: { errors: 0, outOf: 1000 },
    histograms: agg.overall,
    notMeasured: { statusEvent: 'no panel driver ran' },
    series: agg.series(START),
    errors: agg.errors,
    drivers: [{ name: 'panels', requested: '3 panels', ran: false, notRunReason: 'not yet' }],
    transitions: { source: 'postgresql', checked: 1000, missing: 0, wrongStatus: 0, violations: [] },
    unackedAtEnd: 0,
    driverViolations: [],
    notes: [],
    ...overrides
  }
}

t.test('the JSON has every section and exact merged percentiles', async (t) => {
  const r = buildReport(input())
  for (const key of ['options', 'hub', 'machine', 'simulator', 'phases', 'totals', 'rates', 'latency', 'series', 'errors', 'drivers', 'correctness', 'thresholds', 'violations']) {
    t.ok(key in r, key)
  }
  t.equal(r.passed, true)
  t.equal(r.totals.acks, 1000)
  t.equal(r.rates.acksPerS, 200)
  t.equal(r.series.length, 5)
  t.equal(r.series[0]?.counters.acks, 200, 'both workers in one second')
  const ack = r.latency.statusAck
  t.ok('p99Ms' in ack && ack.count === 1000)
  // Worker 1 recorded 0.2..20 ms, worker 0 0.1..10 ms: the merged max is worker 1's.
  t.ok('maxMs' in ack && Math.abs(ack.maxMs - 20) < 0.05)
  t.same(r.latency.statusEvent, { title: 'status → panel event', measured: false, why: 'no panel driver ran' })
  t.equal(r.machine.node, process.version)
  t.ok(r.machine.cores >= 1)
  t.equal(r.simulator.coresUsed, 0.5)
  t.equal(r.simulator.loadCoresUsed, 0.5)
  t.notOk('adminPassword' in r.options, 'no secret in the report')
  t.same(r.errors, { 'hub:ILLEGAL_TRANSITION': 2 })
})

t.test('a missed threshold or a violation fails the run', async (t) => {
  t.equal(buildReport(input({}, ['--max-p99-ms', '1'])).passed, false)
  t.equal(buildReport(input({}, ['--max-p99-ms', '1000', '--min-rate', '100'])).passed, true)
  t.equal(buildReport(input({}, ['--min-rate', '10000'])).thresholds[0]?.met, false)
  const lossy = buildReport(input({ transitions: { source: 'api', checked: 10, missing: 1, wrongStatus: 0, violations: [{ kind: 'missing-transition', message: 'x' }] } }))
  t.equal(lossy.passed, false)
  t.equal(lossy.violations.length, 1)
})

t.test('an overloaded hub (internal errors over --max-error-rate) fails the run', async (t) => {
  // One input for every case: building a report is not free (bucketed histograms), and the suite is timed.
  const base = input()
  const ok = buildReport({ ...base, internalErrors: { errors: 10, outOf: 1000 } })
  t.equal(ok.rates.errorRate, 0.01)
  t.equal(ok.passed, true, 'at the limit passes')
  const over = buildReport({ ...base, internalErrors: { errors: 11, outOf: 1000 } })
  t.equal(over.passed, false)
  t.match(over.thresholds.find((th) => th.name.startsWith('internal error rate')), { limit: 0.01, actual: 0.011, met: false })
  t.equal(buildReport({ ...base, internalErrors: { errors: 11, outOf: 1000 }, options: parseOptions(['--max-error-rate', '0.05'], {}) }).passed, true)
})

t.test('driver counters become rates and series', async (t) => {
  const agg = createAggregator()
  const h = newHistogram()
  recordMs(h, 3)
  agg.addDriver(START + 10, { counters: { events: 500, actionsPosted: 5, actionsPending: 4 }, histograms: { statusEvent: h } })
  agg.addDriver(START + 1010, { counters: { events: 500, actionsPosted: 5, actionsPending: 2 }, histograms: {} })
  t.same(agg.driverTotals, { events: 1000, actionsPosted: 10, actionsPending: 2 }, 'a gauge keeps its latest value')
  const base = input()
  const r = buildReport({ ...base, driverTotals: agg.driverTotals, histograms: { ...base.histograms, statusEvent: agg.overall.statusEvent } })
  t.equal(r.rates.panelEventsPerS, 200)
  t.equal(r.rates.actionsPerS, 2)
  t.ok('p99Ms' in r.latency.statusEvent && r.latency.statusEvent.count === 1)
  t.same(agg.series(START).map((s) => s.driver.events), [500, 500])
})

t.test('the HTML is self-contained and has the plots', async (t) => {
  const dir = t.testdir()
  const files = await writeReport(dir, buildReport(input()))
  t.equal(files.json, path.join(dir, 'report.json'))
  const json = JSON.parse(await readFile(files.json, 'utf8'))
  t.equal(json.tool, 'agent-simulator')
  const html = await readFile(files.html, 'utf8')
  t.ok((html.match(/<svg /g) ?? []).length >= 5, 'latency histogram and percentiles, throughput, agents, errors')
  t.match(html, /status → status\.ack: distribution/)
  t.match(html, /percentiles over time/)
  t.match(html, /Not measured in this run: no panel driver ran/)
  t.match(html, /panels.*no: not yet/s)
  t.notMatch(html, /<script|<link|<img|@import|src=|href=/i, 'nothing loaded from elsewhere')
  for (const url of html.match(/https?:\/\/[^"'\s<)]+/g) ?? []) {
    t.ok(url === 'http://www.w3.org/2000/svg' || url === 'http://127.0.0.1:1234', `only the SVG namespace and the hub are named: ${url}`)
  }
  for (const name of LATENCIES) t.ok(json.latency[name] !== undefined, name)
})
