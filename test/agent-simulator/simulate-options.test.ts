// The load CLI's option parsing: defaults, environment, and bad values refused with the option's name.
import t from 'tap'
import { HelpShown, UsageError, parseOptions } from '../../agent-simulator/cli/options.ts'

t.test('defaults start a hub and run realistic lifecycles', async (t) => {
  const o = parseOptions([], {})
  t.equal(o.hub, undefined)
  t.equal(o.adminUser, 'admin')
  t.equal(o.agents, 100)
  t.equal(o.servers, 5)
  t.equal(o.durationS, 30)
  t.equal(o.rate, undefined)
  t.equal(o.panels, 0)
  t.equal(o.actionRate, 0)
  t.equal(o.dropFraction, 0)
  t.equal(o.reportDir, '.data/simulate-report')
  t.ok(o.workers >= 1)
  t.equal(o.maxErrorRate, 0.01)
  t.equal(o.commandFailures, 0.05)
  t.equal(o.actionDrainS, 30)
  t.equal(o.panelServers, undefined)
})

t.test('panel and action options', async (t) => {
  const o = parseOptions(['--panels', '100', '--stall-panels', '0.1', '--panel-servers', '250', '--action-rate', '20',
    '--command-failures', '0', '--action-drain', '10', '--max-error-rate', '0'], {})
  t.equal(o.panels, 100)
  t.equal(o.stallPanels, 0.1)
  t.equal(o.panelServers, 250)
  t.equal(o.actionRate, 20)
  t.equal(o.commandFailures, 0)
  t.equal(o.actionDrainS, 10)
  t.equal(o.maxErrorRate, 0)
})

t.test('values and the environment are read', async (t) => {
  const o = parseOptions(['--hub', 'http://hub.example:8080/ignored', '--agents', '5000', '--servers', '2', '--rate', '20000',
    '--drop-fraction', '0.1', '--drop-every', '5', '--workers', '4', '--max-p99-ms', '50', '--min-rate', '1000'],
  { SIM_ADMIN_PASSWORD: 'secret', SIM_ADMIN_USER: 'ops' })
  t.equal(o.hub, 'http://hub.example:8080')
  t.equal(o.adminUser, 'ops')
  t.equal(o.adminPassword, 'secret')
  t.equal(o.agents, 5000)
  t.equal(o.rate, 20000)
  t.equal(o.dropFraction, 0.1)
  t.equal(o.dropEveryS, 5)
  t.equal(o.workers, 4)
  t.equal(o.maxP99Ms, 50)
  t.equal(o.minRate, 1000)
})

t.test('never more workers than agents', async (t) => {
  t.equal(parseOptions(['--agents', '2', '--workers', '8'], {}).workers, 2)
})

t.test('bad values are refused, naming the option', async (t) => {
  const cases: Array<[string[], RegExp]> = [
    [['--agents', '0'], /--agents.*out of range/],
    [['--agents', 'many'], /--agents.*not an integer/],
    [['--servers', '1.5'], /--servers.*not an integer/],
    [['--duration', '-1'], /--duration.*greater than 0/],
    [['--drop-fraction', '2'], /--drop-fraction.*fraction/],
    [['--hub', 'ftp://x'], /--hub.*http/],
    [['--hub', 'not a url'], /--hub.*not a URL/],
    [['--database-url', 'mysql://x'], /--database-url.*postgres/],
    [['--prefix', 'a b'], /--prefix/],
    [['--panel-servers', '1001'], /--panel-servers.*out of range/],
    [['--max-error-rate', '1.5'], /--max-error-rate.*fraction/],
    [['--command-failures', '-0.1'], /--command-failures.*fraction/],
    [['--action-drain', '0'], /--action-drain.*greater than 0/],
    [['--hub', 'http://localhost:8080'], /--admin-password/],
    [['--bogus'], /unknown option '--bogus'/]
  ]
  for (const [argv, message] of cases) {
    let error: unknown
    try {
      parseOptions(argv, {})
    } catch (err) {
      error = err
    }
    t.ok(error instanceof UsageError, `${argv.join(' ')}: a UsageError`)
    t.match((error as Error).message, message, argv.join(' '))
  }
})

t.test('--help prints the options and says so', async (t) => {
  let text = ''
  t.throws(() => parseOptions(['--help'], {}, (s) => { text += s }), HelpShown)
  for (const flag of ['--hub', '--agents', '--rate', '--panels', '--action-rate', '--drop-fraction', '--restart-agents', '--stall-panels', '--panel-servers', '--command-failures', '--action-drain', '--max-error-rate', '--max-p99-ms', '--workers', '--report']) {
    t.match(text, flag)
  }
})
