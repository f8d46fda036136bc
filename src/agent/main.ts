// `npm run agent`: the node agent daemon. The only file that reads the environment and handles
// signals. SIGTERM/SIGINT end the agent alone: the games it supervises keep running (they are in
// sessions of their own), and the next agent re-adopts them. Exit status 78 (EX_CONFIG) means
// "do not restart me": bad configuration, or a hub that refused the token for good.
import pino from 'pino'
import { AgentConfigError, loadAgentConfig } from './config.ts'
import { startAgent } from './agent.ts'

const EX_CONFIG = 78

// The token never reaches a game (their environment is built from scratch), a child process
// (useradd, id) nor the logs: it leaves process.env before anything is spawned. Linux still shows
// the agent's initial environment in /proc/<pid>/environ, hence AGENT_TOKEN_FILE (docs/agent.md).
const env = { ...process.env }
delete process.env.AGENT_TOKEN

let config
try {
  config = loadAgentConfig(env)
} catch (err) {
  if (!(err instanceof AgentConfigError)) throw err
  process.stderr.write(`${err.message}\n`)
  process.exit(EX_CONFIG)
}
const log = pino({ level: config.logLevel, base: { service: 'game-panel-agent' } })
let stopping = false
const agent = startAgent({
  config,
  log,
  onTerminal: (reason) => {
    log.fatal({ reason }, 'the hub will not take this agent: fix its token or version, then start it again')
    shutdown(EX_CONFIG)
  }
})

function shutdown (code: number): void {
  if (stopping) return
  stopping = true
  const force = setTimeout(() => process.exit(code), 5_000)
  force.unref()
  agent.close().then(() => process.exit(code), (err: unknown) => {
    log.error({ err }, 'agent close failed')
    process.exit(code)
  })
}

process.on('SIGTERM', () => shutdown(0))
process.on('SIGINT', () => shutdown(0))
