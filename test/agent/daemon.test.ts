// `npm run agent` as a real process (src/agent/main.ts) against a hand-driven hub: it is SIGKILLed
// while its game runs, and the next agent process re-adopts the game, says so in its hello, and
// keeps its console going. Bad configuration exits 78 listing every bad key.
import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { randomUUID } from 'node:crypto'
import t from 'tap'
import { startFakeHub, type FakeConn } from './fake-hub.ts'
import { gameConfig, makeDataDir, type Teardown } from './helpers.ts'

const MAIN = new URL('../../src/agent/main.ts', import.meta.url).pathname
const TOKEN = 'test-token-0123456789abcdef'

function startDaemon (t: Teardown, env: Record<string, string>) {
  const child = spawn(process.execPath, [MAIN], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/', LOG_LEVEL: 'warn', AGENT_GAME_USER: 'gpdaemon', ...env },
    stdio: ['ignore', 'ignore', 'inherit']
  })
  t.teardown(() => child.kill('SIGKILL'))
  return child
}

function command (serverId: string, action: string, input?: string) {
  const now = Date.now()
  return {
    type: 'command',
    commandId: randomUUID(),
    serverId,
    action,
    issuedAt: new Date(now).toISOString(),
    expiresAt: new Date(now + 60_000).toISOString(),
    ...(input === undefined ? {} : { input })
  }
}

t.test('the agent daemon survives its own SIGKILL without stopping the game', async (t) => {
  const hub = await startFakeHub(t)
  const dataDir = makeDataDir(t)
  const env = { AGENT_HUB_URL: hub.url, AGENT_TOKEN: TOKEN, AGENT_DATA_DIR: dataDir }
  const config = gameConfig()
  const { serverId } = config

  const first = startDaemon(t, env)
  const a: FakeConn = await hub.connections.wait(() => true, 'the first agent', 20_000)
  await a.next('hello', undefined, 20_000)
  a.welcome()
  a.send({ type: 'server.config', ...config })
  await a.next('server.config.ack')
  a.send(command(serverId, 'START'))
  await a.next('status', (f) => f.status === 'RUNNING')
  a.send({ type: 'status.ack', serverId, seq: 2 })
  first.kill('SIGKILL')
  await once(first, 'exit')

  startDaemon(t, env)
  const b = await hub.connections.wait((c) => c !== a, 'the second agent', 20_000)
  t.match(await b.next('hello', undefined, 20_000), { servers: [{ serverId, status: 'RUNNING', seq: 2, configRevision: 1 }] })
  b.welcome({ [serverId]: 2 })
  const replay = await b.next('console', (f) => f.replay === true)
  t.ok((replay.lines as string[]).some((l) => l.startsWith('Done')), 'the output from before the restart is replayed')
  b.send(command(serverId, 'COMMAND', 'after the restart'))
  await b.next('console', (f) => (f.lines as string[]).includes('echo: after the restart'))
  b.send(command(serverId, 'STOP'))
  t.match(await b.next('status', (f) => f.status === 'STOPPING'), { seq: 3 })
  t.match(await b.next('status', (f) => f.status === 'STOPPED'), { seq: 4 })
})

t.test('bad configuration: exit 78 with every bad key', async (t) => {
  const result = spawnSync(process.execPath, [MAIN], {
    env: { PATH: process.env.PATH ?? '', AGENT_HUB_URL: 'http://nope', AGENT_MAX_LOG_BYTES: '1' }, encoding: 'utf8', timeout: 20_000
  })
  t.equal(result.status, 78)
  t.match(result.stderr, /AGENT_HUB_URL: must match/)
  t.match(result.stderr, /AGENT_TOKEN: required/)
  t.match(result.stderr, /AGENT_MAX_LOG_BYTES: must be >= 65536/)
})
