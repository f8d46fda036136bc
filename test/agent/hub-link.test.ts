// The agent against a hand-driven hub speaking protocol 1.1 (test/agent/fake-hub.ts): hello with
// features and config revisions, server.config applied and acked, commands run once and answered,
// statuses with increasing seq replayed across hubs, console and stats, server.removed, and bad
// frames that must not take the agent down.
import { existsSync } from 'node:fs'
import { randomUUID } from 'node:crypto'
import t from 'tap'
import { startAgent, type Agent } from '../../src/agent/agent.ts'
import { loadAgentConfig } from '../../src/agent/config.ts'
import { SILENT_LOGGER } from '../../src/agent/types.ts'
import { startFakeHub } from './fake-hub.ts'
import { gameConfig, killGames, makeDataDir, type Teardown } from './helpers.ts'

const TOKEN = 'test-token-0123456789abcdef'

function agentFor (t: Teardown, urls: string[], dataDir: string): Agent {
  const config = loadAgentConfig({ AGENT_HUB_URL: urls.join(','), AGENT_TOKEN: TOKEN, AGENT_DATA_DIR: dataDir, AGENT_STATS_INTERVAL_MS: '200' })
  const agent = startAgent({ config, log: SILENT_LOGGER, isRoot: false, backoff: { baseMs: 50, maxMs: 200 } })
  t.teardown(async () => {
    killGames(agent.supervisor)
    await agent.close()
  })
  return agent
}

t.test('provision, command, console, stats, then a second hub after the first dies', async (t) => {
  const hubA = await startFakeHub(t)
  const hubB = await startFakeHub(t)
  const dataDir = makeDataDir(t)
  const config = gameConfig()
  const { serverId } = config
  const agent = agentFor(t, [hubA.url, hubB.url], dataDir)

  const a = await hubA.connections.wait(() => true, 'a connection to hub A')
  t.equal(a.authorization, `Bearer ${TOKEN}`)
  const hello = await a.next('hello')
  t.match(hello, { protocol: 1, servers: [], features: ['provision', 'console', 'stats'] })
  t.match(hello.agentVersion, /^game-panel-agent\//)
  a.welcome()
  a.send({ type: 'server.config', ...config })
  t.same(await a.next('server.config.ack'), { type: 'server.config.ack', serverId, revision: 1 })

  const startId = randomUUID()
  const command = { type: 'command', commandId: startId, serverId, action: 'START', issuedAt: new Date().toISOString(), expiresAt: new Date(Date.now() + 60_000).toISOString() }
  a.send(command)
  t.same(await a.next('command.ack'), { type: 'command.ack', commandId: startId })
  t.match(await a.next('status'), { serverId, status: 'STARTING', seq: 1 })
  t.match(await a.next('status'), { serverId, status: 'RUNNING', seq: 2 })
  t.same(await a.next('command.result'), { type: 'command.result', commandId: startId, ok: true })
  a.send({ type: 'status.ack', serverId, seq: 1 })
  await a.next('console', (f) => (f.lines as string[]).some((l) => l.startsWith('Done')))
  const stats = await a.next('stats', (f) => f.serverId === serverId)
  t.match(stats, { cpuPercent: Number, memoryBytes: Number, uptimeMs: Number, at: String })
  t.ok((stats.memoryBytes as number) > 0, 'memory of the process tree')

  const inputId = randomUUID()
  a.send({ ...command, commandId: inputId, action: 'COMMAND', input: 'hello there' })
  t.same(await a.next('command.result', (f) => f.commandId === inputId), { type: 'command.result', commandId: inputId, ok: true })
  await a.next('console', (f) => (f.lines as string[]).includes('echo: hello there'))

  // Garbage must not take the agent down.
  a.socket.send('{not json')
  a.socket.send(JSON.stringify({ type: 'server.config', ...config, serverId: '../../etc' }))
  a.socket.send(JSON.stringify({ type: 'server.removed', serverId: '../..' }))
  a.socket.send(JSON.stringify({ type: 'command', commandId: 'x' }))
  a.socket.send(JSON.stringify({ type: 'no.such.frame' }))

  // Hub A dies: the agent moves to hub B. Hub B only stored seq 1: seq 2 is replayed.
  await hubA.close()
  const b = await hubB.connections.wait(() => true, 'a connection to hub B')
  t.match(await b.next('hello'), { servers: [{ serverId, status: 'RUNNING', seq: 2, configRevision: 1 }] })
  b.welcome({ [serverId]: 1 })
  t.match(await b.next('status'), { serverId, status: 'RUNNING', seq: 2 })
  const replay = await b.next('console', (f) => f.replay === true)
  t.ok((replay.lines as string[]).includes('echo: hello there'), 'the last lines are replayed after welcome')
  // The START comes again (at-least-once): acked, answered as before, not run twice.
  b.send(command)
  t.same(await b.next('command.result'), { type: 'command.result', commandId: startId, ok: true })
  t.equal(agent.supervisor.snapshot()[0]?.seq, 2, 'no new status')
  // A changed config while we were away arrives now; it takes effect at the next start.
  b.send({ type: 'server.config', ...config, revision: 2, environment: { DONE_DELAY: '0.1' } })
  t.same(await b.next('server.config.ack'), { type: 'server.config.ack', serverId, revision: 2 })

  b.send({ type: 'server.removed', serverId })
  t.match(await b.next('status', (f) => f.status === 'STOPPED'), { serverId, seq: 4 })
  const deadline = Date.now() + 5_000
  while (existsSync(agent.supervisor.workDir(serverId)) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
  t.notOk(existsSync(agent.supervisor.workDir(serverId)), 'its folder is gone')
  t.same(agent.supervisor.snapshot(), [])
  t.same([...a.frames.items, ...b.frames.items].filter((f) => f.type === 'invalid'), [], 'every frame passed the hub\'s decoder')
})

t.test('a hub that refuses the token ends the agent for good', async (t) => {
  const hub = await startFakeHub(t)
  const dataDir = makeDataDir(t)
  const config = loadAgentConfig({ AGENT_HUB_URL: hub.url, AGENT_TOKEN: TOKEN, AGENT_DATA_DIR: dataDir })
  const terminal = Promise.withResolvers<string>()
  const agent = startAgent({ config, log: SILENT_LOGGER, isRoot: false, onTerminal: terminal.resolve })
  t.teardown(() => agent.close())
  const conn = await hub.connections.wait(() => true, 'a connection')
  await conn.next('hello')
  conn.socket.close(4401, 'token revoked')
  t.match(await terminal.promise, /4401/)
})

t.test('a status the hub refuses for good is dropped; one it failed to store is replayed', async (t) => {
  const hub = await startFakeHub(t)
  const dataDir = makeDataDir(t)
  const config = gameConfig()
  const { serverId } = config
  agentFor(t, [hub.url], dataDir)
  const a = await hub.connections.wait(() => true, 'a connection')
  await a.next('hello')
  a.welcome()
  a.send({ type: 'server.config', ...config })
  await a.next('server.config.ack')
  a.send({ type: 'command', commandId: randomUUID(), serverId, action: 'START', issuedAt: new Date().toISOString(), expiresAt: new Date(Date.now() + 60_000).toISOString() })
  await a.next('status', (f) => f.status === 'RUNNING')
  a.send({ type: 'error', code: 'UNSTORABLE', message: 'refused', ref: `${serverId}:1` })
  a.send({ type: 'error', code: 'INTERNAL', message: 'database down', ref: `${serverId}:2` })
  a.send({ type: 'error', code: 'BAD_FRAME', message: 'no ref' })
  await new Promise((resolve) => setTimeout(resolve, 100))
  a.socket.terminate()
  const b = await hub.connections.wait((c) => c !== a, 'a reconnection')
  t.match(await b.next('hello'), { servers: [{ serverId, status: 'RUNNING', seq: 2 }] })
  b.welcome({ [serverId]: 0 })
  t.match(await b.next('status'), { serverId, seq: 2, status: 'RUNNING' }, 'seq 2 (INTERNAL) is replayed')
  t.notOk(b.frames.items.some((f) => f.type === 'status' && f.seq === 1), 'seq 1 (UNSTORABLE) is not')
})
