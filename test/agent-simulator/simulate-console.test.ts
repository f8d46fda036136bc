// The simulator's console and stats load (--console-rate, --stats-interval) and its cross-hub
// figures (--panel-hubs), run for real: two hubs sharing one PostgreSQL, the agents on hub A, the
// panels spread over A and B. The report must hold console latency for both kinds of panel, sane
// values, no lost line, and stats frames; the options refuse what cannot work.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import t from 'tap'
import { parseOptions, UsageError } from '../../agent-simulator/cli/options.ts'
import { runSimulation } from '../../agent-simulator/cli/run.ts'
import { ADMIN_PASSWORD, startTestHub } from '../helpers/hub.ts'

t.test('options: --console-rate, --stats-interval, --panel-hubs', async t => {
  const o = parseOptions(['--hub', 'http://a:1', '--admin-password', 'x', '--console-rate', '5', '--stats-interval', '1', '--panel-hubs', 'http://a:1,http://b:2/'])
  t.match(o, { consoleRate: 5, statsIntervalS: 1, panelHubs: ['http://a:1', 'http://b:2'] })
  t.match(parseOptions([]), { consoleRate: 0, statsIntervalS: 0, panelHubs: undefined }, 'off by default')
  t.throws(() => parseOptions(['--panel-hubs', 'http://b:2']), UsageError, '--panel-hubs needs --hub')
  t.throws(() => parseOptions(['--console-rate', '100', '--servers', '5']), UsageError, 'over the hub\'s console budget per agent')
  t.throws(() => parseOptions(['--hub', 'http://a:1', '--admin-password', 'x', '--panel-hubs', 'ftp://b']), UsageError)
})

t.test('console lines and stats through one hub and across two: latency, no loss, stats', async t => {
  const a = await startTestHub(t, { heartbeatMs: 60_000 })
  const b = await startTestHub(t, { heartbeatMs: 60_000 }, { databaseUrl: a.databaseUrl })
  const dir = await mkdtemp(path.join(tmpdir(), 'sim-console-'))
  t.teardown(async () => await rm(dir, { recursive: true, force: true }))
  const o = parseOptions([
    '--hub', a.url, '--admin-password', ADMIN_PASSWORD, '--database-url', a.databaseUrl,
    '--agents', '2', '--servers', '2', '--rate', '4', '--duration', '3', '--workers', '1',
    '--panels', '2', '--panel-servers', '4', '--console-rate', '10', '--stats-interval', '1',
    '--panel-hubs', `${a.url},${b.url}`, '--report', dir, '--action-drain', '1'
  ])
  const started = Date.now()
  const { report } = await runSimulation(o, { write: s => { if (process.env.SIM_TEST_LOG === '1') process.stderr.write(`${Date.now() - started} ${s}`) } })
  const single = report.latency.consoleLine
  const cross = report.latency.consoleLineCrossHub
  if (!('p99Ms' in single) || !('p99Ms' in cross)) throw new Error(`console latency not measured: ${JSON.stringify({ single, cross })}`)
  // 4 servers × 10 lines/s for ~3 s, each line watched by 2 panels (one per hub).
  t.ok(single.count > 50, `lines measured on the agents' hub: ${single.count}`)
  t.ok(cross.count > 50, `lines measured across hubs: ${cross.count}`)
  for (const [name, l] of [['one hub', single], ['cross-hub', cross]] as const) {
    // HdrHistogram reports a percentile as its bucket's highest value: up to 0.1 % above the max.
    t.ok(l.p50Ms >= 0 && l.p50Ms <= l.p99Ms && l.p99Ms <= l.maxMs * 1.002, `${name}: p50 ${l.p50Ms} ≤ p99 ${l.p99Ms} ≤ max ${l.maxMs}`)
    t.ok(l.p99Ms < 5_000, `${name}: p99 ${l.p99Ms} ms is a latency, not a clock error`)
  }
  t.equal(report.driverTotals.consoleLost, 0, 'no line lost by panels that keep reading')
  t.equal(report.driverTotals.consoleDropped, 0, 'none dropped')
  t.ok((report.driverTotals.statsFrames ?? 0) > 0, `stats frames reached the panels: ${report.driverTotals.statsFrames}`)
  t.ok(report.totals.consoleLinesSent > 50 && report.totals.statsSent > 5, 'the agents counted what they sent')
  t.notOk('p99Ms' in report.latency.actionSucceeded, 'other latencies are still reported as not measured')
})
