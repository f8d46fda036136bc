// Limits and users: the memory limit (here watched from /proc: this machine has no writable
// cgroup v2 memory controller), games run as an unprivileged user when the agent is root, and
// server folders are prepared without following symlinks.
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import t from 'tap'
import { startAgent } from '../../src/agent/agent.ts'
import { loadAgentConfig } from '../../src/agent/config.ts'
import { lookupUser } from '../../src/agent/users.ts'
import { SILENT_LOGGER } from '../../src/agent/types.ts'
import { startFakeHub } from './fake-hub.ts'
import { HOG, createTestNode, gameConfig, killGames, makeDataDir, run, type Teardown } from './helpers.ts'
import { randomUUID } from 'node:crypto'

const TOKEN = 'test-token-0123456789abcdef'
const isRoot = process.getuid?.() === 0

async function connectedAgent (t: Teardown, root: boolean, env: Record<string, string> = {}) {
  const hub = await startFakeHub(t)
  const dataDir = makeDataDir(t)
  const config = loadAgentConfig({ AGENT_HUB_URL: hub.url, AGENT_TOKEN: TOKEN, AGENT_DATA_DIR: dataDir, AGENT_STATS_INTERVAL_MS: '200', ...env })
  const agent = startAgent({ config, log: SILENT_LOGGER, isRoot: root })
  t.teardown(async () => {
    killGames(agent.supervisor)
    await agent.close()
  })
  const conn = await hub.connections.wait(() => true, 'a connection')
  await conn.next('hello')
  conn.welcome()
  return { agent, conn }
}

function command (serverId: string, action: string) {
  const now = Date.now()
  return { type: 'command', commandId: randomUUID(), serverId, action, issuedAt: new Date(now).toISOString(), expiresAt: new Date(now + 60_000).toISOString() }
}

t.test('a server over its memory limit is killed with a clear reason', async (t) => {
  const { agent, conn } = await connectedAgent(t, false)
  t.equal(agent.memory.mode, 'watch', 'no writable cgroup v2 memory controller on this machine')
  const config = gameConfig({ startup: `/bin/sh ${HOG}`, doneRegex: '^Done$', memoryLimitMb: 48, environment: { HOG_STEP_MB: '8' } })
  conn.send({ type: 'server.config', ...config })
  await conn.next('server.config.ack')
  conn.send(command(config.serverId, 'START'))
  await conn.next('status', (f) => f.status === 'RUNNING')
  const crashed = await conn.next('status', (f) => f.status === 'CRASHED', 15_000)
  t.match(crashed.reason, /^memory limit exceeded: \d+ MiB used of 48 MiB \(watched by the agent in \/proc; killed with SIGKILL\)/)
  const stats = conn.frames.items.filter((f) => f.type === 'stats')
  t.ok(stats.some((s) => s.memoryLimitBytes === 48 * 1024 * 1024), 'stats carry the limit')
})

t.test('as root, games run as the unprivileged game user, never root', { skip: isRoot ? false : 'needs root' }, async (t) => {
  const user = `gp${process.pid % 100000}`
  t.teardown(() => { try { execFileSync('userdel', [user]) } catch {} })
  const { agent, conn } = await connectedAgent(t, true, { AGENT_GAME_USER: user })
  const owner = lookupUser(user)
  t.ok(owner !== undefined && owner.uid !== 0, 'the user was created')
  t.same(agent.runAs, owner)
  const config = gameConfig()
  conn.send({ type: 'server.config', ...config })
  await conn.next('server.config.ack')
  conn.send(command(config.serverId, 'START'))
  await conn.next('status', (f) => f.status === 'RUNNING')
  await conn.next('console', (f) => (f.lines as string[]).some((l) => l.endsWith(`as ${user}`)))
  const st = statSync(agent.supervisor.workDir(config.serverId))
  t.equal(st.uid, owner?.uid, 'its folder belongs to the game user')
  conn.send(command(config.serverId, 'STOP'))
  await conn.next('status', (f) => f.status === 'STOPPED')
})

t.test('a server folder that is a symlink is refused, not followed', async (t) => {
  const node = createTestNode(t)
  const config = gameConfig()
  node.supervisor.applyConfig(config)
  const elsewhere = mkdtempSync(path.join(tmpdir(), 'agent-elsewhere-'))
  t.teardown(() => rmSync(elsewhere, { recursive: true, force: true }))
  mkdirSync(path.join(node.dataDir, 'servers'), { recursive: true })
  symlinkSync(elsewhere, node.supervisor.workDir(config.serverId))
  const outcome = await run(node, config.serverId, 'START')
  t.equal(outcome.error?.code, 'SPAWN_FAILED')
  t.match((await node.waitStatus(config.serverId, 'CRASHED')).reason, /is a symlink; refusing to follow it/)
})
