/**
 * The HTML report: one file, no script, no stylesheet or font from elsewhere, charts as inline SVG
 * (svg.ts), so it can be attached to a CI run or mailed and still open anywhere. Every latency the
 * simulator knows has a section; one not measured in this run says why instead of a chart.
 */
import type { Report } from './report-types.ts'
import { LATENCIES, type LatencyName } from './stats.ts'
import { barChart, escapeXml as e, lineChart } from './svg.ts'

const CSS = 'body{font-family:sans-serif;max-width:800px;margin:2em auto;color:#111}table{border-collapse:collapse;margin:.5em 0}' +
  'td,th{border:1px solid #ddd;padding:3px 8px;text-align:left;font-size:13px}.pass{color:#15803d}.fail{color:#b91c1c}' +
  '.muted{color:#6b7280}h2{margin-top:1.6em;border-bottom:1px solid #ddd}'

function table (rows: Array<[string, string | number]>): string {
  return `<table>${rows.map(([k, v]) => `<tr><th>${e(k)}</th><td>${e(String(v))}</td></tr>`).join('')}</table>`
}

function latencySection (report: Report, name: LatencyName): string {
  const l = report.latency[name]
  if (!('p99Ms' in l)) return `<h3>${e(l.title)}</h3><p class="muted">Not measured in this run: ${e(l.why)}.</p>`
  const summary = table([['count', l.count], ['p50', `${l.p50Ms} ms`], ['p90', `${l.p90Ms} ms`], ['p99', `${l.p99Ms} ms`],
    ['p99.9', `${l.p999Ms} ms`], ['max', `${l.maxMs} ms`], ['mean', `${l.meanMs} ms`]])
  const hist = barChart(`${l.title}: distribution`, 'latency, up to (ms)', '% of samples',
    l.histogram.map((b) => ({ label: Number(b.upToMs.toPrecision(2)).toString(), value: b.share * 100 })))
  const over = (key: 'p50Ms' | 'p99Ms' | 'maxMs') => report.series.flatMap((s) => {
    const p = s.latency[name]
    return p === undefined ? [] : [[s.t, p[key]] as [number, number]]
  })
  const time = lineChart(`${l.title}: percentiles over time`, 'seconds since load started', 'ms',
    [{ name: 'p50', points: over('p50Ms') }, { name: 'p99', points: over('p99Ms') }, { name: 'max', points: over('maxMs') }])
  return `<h3>${e(l.title)}</h3>${summary}${hist}${time}`
}

export function renderHtml (r: Report): string {
  const verdict = r.passed ? '<p class="pass"><strong>PASSED</strong></p>' : '<p class="fail"><strong>FAILED</strong></p>'
  const throughput = lineChart('Throughput', 'seconds since load started', 'per second', [
    { name: 'transitions sent', points: r.series.map((s) => [s.t, s.counters.transitions]) },
    { name: 'acks', points: r.series.map((s) => [s.t, s.counters.acks]) },
    ...(r.driverTotals.events === undefined ? [] : [{ name: 'panel events', points: r.series.map((s) => [s.t, s.driver?.events ?? 0] as [number, number]) }]),
    ...(r.driverTotals.actionsPosted === undefined ? [] : [{ name: 'actions posted', points: r.series.map((s) => [s.t, s.driver?.actionsPosted ?? 0] as [number, number]) }])
  ])
  const connected = lineChart('Connected agents', 'seconds since load started', 'agents', [
    { name: 'connected', points: r.series.map((s) => [s.t, s.connected]) }
  ])
  const errorsOverTime = lineChart('Errors and chaos', 'seconds since load started', 'per second', [
    { name: 'error frames', points: r.series.map((s) => [s.t, s.counters.errorFrames]) },
    { name: 'rejected/timeouts', points: r.series.map((s) => [s.t, s.counters.rejected + s.counters.ackTimeouts]) },
    { name: 'reconnects', points: r.series.map((s) => [s.t, s.counters.reconnects]) },
    { name: 'drops', points: r.series.map((s) => [s.t, s.counters.drops]) }
  ])
  const errorRows = Object.entries(r.errors).sort((a, b) => b[1] - a[1])
  const t = r.correctness.transitions
  const correctness = 'skipped' in t
    ? `<p class="muted">Stored transitions not checked: ${e(t.skipped)}.</p>`
    : table([['source', t.source], ['acked transitions checked', t.checked], ['missing from the database', t.missing],
      ['stored with another status', t.wrongStatus], ['unacked when the run ended', r.correctness.unackedAtEnd]])
  const violations = r.violations.length === 0
    ? '<p class="pass">No violation.</p>'
    : `<ul>${r.violations.map((v) => `<li class="fail">${e(v.kind)}: ${e(v.message)}</li>`).join('')}</ul>`
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Simulator report ${e(r.startedAt)}</title><style>${CSS}</style></head><body>
<h1>Agent simulator report</h1>${verdict}
<p>${e(r.startedAt)} → ${e(r.finishedAt)} · hub ${e(r.hub.url)} (version ${e(r.hub.version)}${r.hub.startedBySimulator ? ', started by the simulator' : ''})</p>
${r.notes.map((n) => `<p class="muted">${e(n)}</p>`).join('')}
<h2>Summary</h2>
${table([['agents × servers', `${r.options.agents} × ${r.options.servers}`], ['mode', r.options.rate === undefined ? 'realistic lifecycles' : `fixed rate ${r.options.rate}/s`],
  ['load phase', `${r.phases.loadS} s (connect ${r.phases.connectS} s, drain ${r.phases.drainS} s)`],
  ['transitions sent', r.totals.transitions], ['acked', r.totals.acks], ['transitions/s', r.rates.transitionsPerS], ['acks/s', r.rates.acksPerS],
  ['commands received', r.totals.commands], ['panel events/s (all panels)', r.rates.panelEventsPerS], ['actions posted/s', r.rates.actionsPerS],
  ['internal error rate', r.rates.errorRate], ['drops / restarts / reconnects', `${r.totals.drops} / ${r.totals.restarts} / ${r.totals.reconnects}`]])}
<h3>Thresholds</h3>
${r.thresholds.length === 0 ? '<p class="muted">None set.</p>' : `<table><tr><th>threshold</th><th>limit</th><th>actual</th><th></th></tr>${r.thresholds.map((th) => `<tr><td>${e(th.name)}</td><td>${th.limit}</td><td>${th.actual}</td><td class="${th.met ? 'pass' : 'fail'}">${th.met ? 'met' : 'missed'}</td></tr>`).join('')}</table>`}
<h3>Load drivers</h3>
<table><tr><th>driver</th><th>asked</th><th>ran</th><th>what it saw</th></tr>${r.drivers.map((d) => `<tr><td>${e(d.name)}</td><td>${e(d.requested ?? '—')}</td><td>${d.ran ? 'yes' : `no${d.notRunReason === undefined ? '' : `: ${e(d.notRunReason)}`}`}</td><td><pre>${d.details === undefined ? '' : e(JSON.stringify(d.details, null, 1))}</pre></td></tr>`).join('')}</table>
<h2>Latency</h2>
${LATENCIES.map((n) => latencySection(r, n)).join('\n')}
<h2>Throughput</h2>
${throughput}${connected}
<h2>Errors</h2>
${errorsOverTime}
${errorRows.length === 0 ? '<p class="pass">No error.</p>' : `<table><tr><th>code</th><th>count</th></tr>${errorRows.map(([c, n]) => `<tr><td>${e(c)}</td><td>${n}</td></tr>`).join('')}</table>`}
<h2>Correctness</h2>
${correctness}${violations}
<h2>Machine and simulator</h2>
<p class="muted">The simulator, the hub and PostgreSQL may share these cores: read every figure with that in mind.</p>
${table([['CPU', r.machine.cpuModel], ['cores', r.machine.cores], ['memory', `${(r.machine.totalMemoryBytes / 2 ** 30).toFixed(1)} GiB`],
  ['OS', `${r.machine.platform} ${r.machine.release}`], ['Node.js', r.machine.node], ['simulator workers', r.simulator.workers],
  ['simulator CPU', `${r.simulator.cpuUserS} s user + ${r.simulator.cpuSystemS} s system over ${r.simulator.wallS} s (${r.simulator.coresUsed} cores; ${r.simulator.loadCoresUsed} during load)`]])}
<h2>Options</h2>
<pre>${e(JSON.stringify(r.options, null, 2))}</pre>
</body></html>
`
}
