/**
 * The simulator's command line: one commander program, parsed by a pure function so that tests can
 * check defaults and refusals without spawning a process.
 *
 * Why commander: it is small, dependency-free, maintained for over a decade, generates `--help`
 * from the same declarations that parse, and lets each option carry its own validator
 * (InvalidArgumentError), so a bad value is refused with the option's name and the reason.
 * `node:util` parseArgs would need all of that written by hand.
 */
import { availableParallelism } from 'node:os'
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander'

export interface SimulateOptions {
  /** Base URL of a running hub; undefined: the simulator starts one itself. */
  hub: string | undefined
  adminUser: string
  /** Required with --hub; generated when the simulator starts the hub. */
  adminPassword: string | undefined
  /** Direct access to the hub's PostgreSQL for the correctness check (and provisioning fallback). */
  databaseUrl: string | undefined
  agents: number
  /** Servers per agent. */
  servers: number
  durationS: number
  /** Fixed total transitions/s; undefined: realistic lifecycles. */
  rate: number | undefined
  panels: number
  actionRate: number
  dropFraction: number
  dropEveryS: number
  restartAgents: number
  stallPanels: number
  /** Servers each panel watches; undefined: an even share, at least 100. */
  panelServers: number | undefined
  /** Share of commands the simulated agents answer with a failure. */
  commandFailures: number
  /** Seconds after the load during which accepted actions may still reach a final state. */
  actionDrainS: number
  /** Fail when more than this share of frames and requests got an internal error. */
  maxErrorRate: number
  maxP99Ms: number | undefined
  minRate: number | undefined
  reportDir: string
  workers: number
  /** Nodes and servers are named `<prefix>-node-<i>` and `<prefix>-node-<i>-srv-<j>`, and reused. */
  prefix: string
  /** Agents connecting at once per worker, so that a large fleet does not stampede the hub. */
  connectConcurrency: number
  /** Console lines per second per server (PROTOCOL.md 1.1 `console`); 0: none. */
  consoleRate: number
  /** Seconds between two stats samples of a server; 0: none. */
  statsIntervalS: number
  /** Hubs the panels connect to, in turn (base URLs); undefined: the agents' hub. */
  panelHubs: string[] | undefined
}

/** A usage error: the message names the option and what was wrong. Exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError'
}

/** --help or --version was asked for; the text was written out already. Exit code 0. */
export class HelpShown extends Error {
  override name = 'HelpShown'
}

function integer (min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const n = Number(value)
    if (value.trim() === '' || !Number.isInteger(n)) throw new InvalidArgumentError(`"${value}" is not an integer.`)
    if (n < min || n > max) throw new InvalidArgumentError(`${n} is out of range [${min}, ${max}].`)
    return n
  }
}

function positive (value: string): number {
  const n = Number(value)
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`"${value}" is not a number greater than 0.`)
  return n
}

function nonNegative (value: string): number {
  const n = Number(value)
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`"${value}" is not a number ≥ 0.`)
  return n
}

function fraction (value: string): number {
  const n = Number(value)
  if (value.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1) throw new InvalidArgumentError(`"${value}" is not a fraction in [0, 1].`)
  return n
}

function httpUrl (value: string): string {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new InvalidArgumentError(`"${value}" is not a URL.`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new InvalidArgumentError(`"${value}" must be http:// or https://.`)
  return url.origin
}

function httpUrls (value: string): string[] {
  const urls = value.split(',').map((v) => httpUrl(v.trim()))
  if (urls.length > 64) throw new InvalidArgumentError('at most 64 hubs.')
  return urls
}

function postgresUrl (value: string): string {
  if (!/^postgres(ql)?:\/\//.test(value)) throw new InvalidArgumentError(`"${value}" is not a postgres:// URL.`)
  return value
}

function defaultWorkers (agents: number): number {
  // One ws client thread saturates around a few thousand busy agents; never more threads than cores.
  return Math.max(1, Math.min(availableParallelism(), Math.ceil(agents / 1500)))
}

export function buildProgram (): Command {
  return new Command('simulate')
    .description('Drive simulated node agents, panels and power actions against a hub, check what it stored, and write a report.')
    .addOption(new Option('--hub <url>', 'base URL of a running hub (default: start one with embedded PostgreSQL)').argParser(httpUrl))
    .addOption(new Option('--admin-user <name>', 'user that provisions nodes and servers').env('SIM_ADMIN_USER').default('admin'))
    .addOption(new Option('--admin-password <password>', 'its password (required with --hub)').env('SIM_ADMIN_PASSWORD'))
    .addOption(new Option('--database-url <url>', "the hub's PostgreSQL, to verify stored transitions directly").env('SIM_DATABASE_URL').argParser(postgresUrl))
    .addOption(new Option('--agents <n>', 'simulated agents (nodes)').argParser(integer(1, 19_000)).default(100))
    .addOption(new Option('--servers <m>', 'servers per agent').argParser(integer(1, 10_000)).default(5))
    .addOption(new Option('--duration <s>', 'seconds of load after every agent connected').argParser(positive).default(30))
    .addOption(new Option('--rate <t>', 'fixed total status transitions per second (default: realistic lifecycles)').argParser(positive))
    .addOption(new Option('--panels <p>', 'panel connections subscribed to the servers').argParser(integer(0)).default(0))
    .addOption(new Option('--action-rate <r>', 'power actions posted per second').argParser(nonNegative).default(0))
    .addOption(new Option('--drop-fraction <f>', 'fraction of agents whose TCP connection is cut (no close frame) every --drop-every s').argParser(fraction).default(0))
    .addOption(new Option('--drop-every <k>', 'chaos period in seconds, for drops and restarts').argParser(positive).default(10))
    .addOption(new Option('--restart-agents <f>', 'fraction of agents restarted (closed, then a new process-like client) every --drop-every s').argParser(fraction).default(0))
    .addOption(new Option('--stall-panels <f>', 'fraction of panels that stop reading').argParser(fraction).default(0))
    .addOption(new Option('--panel-servers <n>', 'servers each panel watches (default: an even share of all, at least 100)').argParser(integer(1, 1000)))
    .addOption(new Option('--command-failures <f>', 'fraction of commands the agents answer with a failure').argParser(fraction).default(0.05))
    .addOption(new Option('--action-drain <s>', 'seconds after the load for accepted actions to reach a final state').argParser(positive).default(30))
    .addOption(new Option('--max-error-rate <f>', 'fail when more than this fraction of statuses and action requests got an internal error (error INTERNAL, HTTP 5xx)').argParser(fraction).default(0.01))
    .addOption(new Option('--max-p99-ms <ms>', 'fail when status→ack p99 exceeds this').argParser(positive))
    .addOption(new Option('--min-rate <t>', 'fail when acked transitions/s over the run fall below this').argParser(nonNegative))
    .addOption(new Option('--report <dir>', 'folder for report.json and report.html').default('.data/simulate-report'))
    .addOption(new Option('--workers <w>', 'worker threads the agents are spread over (default: ~1 per 1,500 agents, at most the cores)').argParser(integer(1, 256)))
    .addOption(new Option('--prefix <name>', 'name prefix of the nodes and servers created or reused').default('sim'))
    .addOption(new Option('--connect-concurrency <n>', 'agents connecting at once per worker').argParser(integer(1, 10_000)).default(100))
    .addOption(new Option('--console-rate <n>', 'console lines per second per server (panels then watch the console: latency, lost and dropped lines)').argParser(nonNegative).default(0))
    .addOption(new Option('--stats-interval <s>', 'seconds between stats samples of each server (0: none)').argParser(nonNegative).default(0))
    .addOption(new Option('--panel-hubs <urls>', 'comma-separated hubs the panels connect to in turn (with --hub: a panel on another hub measures the cross-hub figures)').argParser(httpUrls))
}

/**
 * Parses `argv` (without `node` and the script), reading defaults from `env`. Throws UsageError with
 * commander's message (which names the option) or HelpShown after printing help; `write` receives
 * what commander prints, so tests can capture it.
 */
export function parseOptions (argv: string[], env: NodeJS.ProcessEnv = {}, write: (text: string) => void = (s) => process.stdout.write(s)): SimulateOptions {
  const program = buildProgram()
  program.exitOverride()
  program.configureOutput({ writeOut: write, writeErr: () => {} })
  // commander reads .env() from process.env only: give it the env we were handed, and restore.
  const saved = process.env
  process.env = env
  try {
    program.parse(argv, { from: 'user' })
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') throw new HelpShown(err.message)
      throw new UsageError(err.message.replace(/^error: /, ''))
    }
    throw err
  } finally {
    process.env = saved
  }
  const o = program.opts()
  const options: SimulateOptions = {
    hub: o.hub,
    adminUser: o.adminUser,
    adminPassword: o.adminPassword,
    databaseUrl: o.databaseUrl,
    agents: o.agents,
    servers: o.servers,
    durationS: o.duration,
    rate: o.rate,
    panels: o.panels,
    actionRate: o.actionRate,
    dropFraction: o.dropFraction,
    dropEveryS: o.dropEvery,
    restartAgents: o.restartAgents,
    stallPanels: o.stallPanels,
    panelServers: o.panelServers,
    commandFailures: o.commandFailures,
    actionDrainS: o.actionDrain,
    maxErrorRate: o.maxErrorRate,
    maxP99Ms: o.maxP99Ms,
    minRate: o.minRate,
    reportDir: o.report,
    workers: o.workers ?? defaultWorkers(o.agents),
    prefix: o.prefix,
    connectConcurrency: o.connectConcurrency,
    consoleRate: o.consoleRate,
    statsIntervalS: o.statsInterval,
    panelHubs: o.panelHubs
  }
  if (options.hub !== undefined && options.adminPassword === undefined) {
    throw new UsageError('--admin-password (or SIM_ADMIN_PASSWORD) is required with --hub')
  }
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(options.prefix)) throw new UsageError("option '--prefix <name>' argument must match [A-Za-z0-9_.-]{1,64} (it names nodes)")
  if (options.workers > options.agents) options.workers = options.agents
  if (options.panelHubs !== undefined && options.hub === undefined) throw new UsageError('--panel-hubs needs --hub (the agents\' hub; the panels may use it and others)')
  // The hub's console budget is 200 frames/s per agent connection (one line per frame here).
  if (options.consoleRate * options.servers > 190) throw new UsageError('option \'--console-rate <n>\' × --servers must stay under 190 lines/s per agent (the hub\'s budget is 200 frames/s per connection)')
  return options
}
