// `npm run simulate -- [options]`: the load CLI (agent-simulator/cli/). Exit codes: 0 passed,
// 1 thresholds missed or a correctness violation, 2 bad options, 3 the run itself failed.
import { HelpShown, UsageError, parseOptions } from './cli/options.ts'
import { runSimulation } from './cli/run.ts'

let options
try {
  options = parseOptions(process.argv.slice(2), process.env)
} catch (err) {
  if (err instanceof HelpShown) process.exit(0)
  if (!(err instanceof UsageError)) throw err
  process.stderr.write(`simulate: ${err.message}\nRun with --help for the options.\n`)
  process.exit(2)
}

try {
  const { report } = await runSimulation(options, process.stdout)
  process.exitCode = report.passed ? 0 : 1
} catch (err) {
  process.stderr.write(`simulate: the run failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`)
  process.exitCode = 3
}
