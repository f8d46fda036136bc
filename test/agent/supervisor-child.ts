// A supervisor in a process of its own, for the adoption tests: applies the config given as JSON,
// starts the server, prints "RUNNING <pid>" once it runs (with "stop" as 4th argument: after also
// asking it to stop, so the stop is in progress), and waits to be SIGKILLed.
import { createMemoryLimiter } from '../../src/agent/memory-limit.ts'
import { DEFAULT_TIMING } from '../../src/agent/server-unit.ts'
import { createSupervisor } from '../../src/agent/supervisor.ts'
import { SILENT_LOGGER } from '../../src/agent/types.ts'

const [dataDir, configJson, commandId, then] = process.argv.slice(2) as [string, string, string, string | undefined]
const config = JSON.parse(configJson) as { serverId: string }
const supervisor = createSupervisor({
  dataDir,
  log: SILENT_LOGGER,
  timing: DEFAULT_TIMING,
  memory: createMemoryLimiter(undefined, SILENT_LOGGER),
  onStatus: () => {},
  onConsole: () => {}
})
supervisor.init()
supervisor.applyConfig(config)
const outcome = await supervisor.execute({ commandId, serverId: config.serverId, action: 'START' })
if (then === 'stop') supervisor.execute({ commandId: crypto.randomUUID(), serverId: config.serverId, action: 'STOP' })?.catch(() => {})
process.stdout.write(`${outcome?.ok === true ? 'RUNNING' : 'FAILED'} ${supervisor.unit(config.serverId)?.pid ?? 0}\n`)
setInterval(() => {}, 60_000)
