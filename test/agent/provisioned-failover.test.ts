// Two hubs on one database and a real agent process given both (AGENT_HUB_URL=A,B; its token in
// AGENT_TOKEN_FILE). Hub A, the one the agent is on, is SIGKILLed (a real `node src/hub/main.ts`
// child): the agent reconnects to B, its game server keeps running, B reports it RUNNING and
// delivers a COMMAND to it. Then a memory limit set through B's REST API (PATCH memoryLimitMb)
// reaches the agent and is enforced: on this machine by the agent's /proc watch (no cgroup v2
// memory controller: see docs/agent.md, Limits).
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { createPanelClient } from '../../agent-simulator/panel-client.ts'
import { ADMIN_PASSWORD, startTestHub, testKeySet } from '../helpers/hub.ts'
import { waitFor as waitUntil } from '../helpers/wait.ts'
import { GAME, HOG, makeDataDir, type Teardown } from './helpers.ts'
import { act } from '../helpers/actions.ts'
import { freePort, startHubProcess } from '../helpers/hub-process.ts'

const ROOT = path.resolve(import.meta.dirname, '../..')
const MAIN = path.join(ROOT, 'src/agent/main.ts')

const waitFor = async <T>(what: string, fn: () => Promise<T | undefined | null | false>, ms = 30_000): Promise<T> => await waitUntil(what, fn, ms, 50)

/** `node src/hub/main.ts` on the test hub's database, signing with the same agent keys. */
async function startChildHub (t: Teardown, databaseUrl: string): Promise<{ child: ChildProcess, url: string }> {
  const { child, ready } = startHubProcess({
    DATABASE_URL: databaseUrl,
    HUB_DATA_DIR: makeDataDir(t),
    HUB_PORT: String(await freePort()),
    HUB_AGENT_KEYS: JSON.stringify(await testKeySet()),
    HUB_ADMIN_PASSWORD: ADMIN_PASSWORD,
    NODE_ENV: 'test',
    LOG_LEVEL: 'warn'
  }, { readyMs: 60_000 })
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  return { child, url: await ready }
}

/** Games the agent recorded in its data folder: killed at the end, whatever happened. */
function killRecordedGames (dataDir: string): void {
  let names: string[] = []
  try { names = readdirSync(path.join(dataDir, 'run')) } catch {}
  for (const name of names) {
    try {
      const pid = (JSON.parse(readFileSync(path.join(dataDir, 'run', name, 'state.json'), 'utf8')) as { process?: { pid?: number } }).process?.pid
      if (typeof pid === 'number' && pid > 1) process.kill(-pid, 'SIGKILL')
    } catch {}
  }
}

t.test('the agent\'s hub is SIGKILLed: it moves to the other hub, its game still RUNNING and taking commands; a memory limit set through the hub is enforced', async (t) => {
  const b = await startTestHub(t)
  const a = await startChildHub(t, b.databaseUrl)
  const token = await b.adminToken()
  const prisma = b.app.db.prisma

  const { node, agentToken } = (await b.request('POST', '/api/nodes', { token, body: { name: 'host-failover' } })).body
  const me = (await b.request('GET', '/api/me', { token })).body
  const game = await b.request('POST', '/api/alts', {
    token,
    body: { name: 'fixture-game', image: 'none', startup: `/bin/sh ${GAME}`, stop: { type: 'command', value: 'stop' }, doneRegex: '^Done \\(' }
  })
  t.equal(game.status, 201, 'POST /api/alts (game)', { body: game.body })
  const hog = await b.request('POST', '/api/alts', {
    token,
    body: { name: 'memory-hog', image: 'none', startup: `/bin/sh ${HOG}`, doneRegex: '^Done$', variables: [{ name: 'HOG_STEP_MB', default: '8' }] }
  })
  t.equal(hog.status, 201, 'POST /api/alts (hog)', { body: hog.body })
  const create = async (name: string, altId: string, port: number) => {
    const res = await b.request('POST', '/api/servers', {
      token, body: { name, nodeId: node.id, altId, ownerId: me.id, port, autoRestart: { enabled: false, maxRestarts: 3, windowS: 60 } }
    })
    t.equal(res.status, 201, `POST /api/servers (${name})`, { body: res.body })
    return res.body.id as string
  }
  const gameId = await create('s1', game.body.id, 25565)
  const hogId = await create('hog', hog.body.id, 25566)
  const acked = async (serverId: string, revision: number) => await waitFor(`config revision ${revision} acked`, async () =>
    (await prisma.server.findUnique({ where: { id: serverId }, select: { configAckedRevision: true } }))?.configAckedRevision === revision)

  // The agent, given both hubs: A first.
  const dataDir = makeDataDir(t)
  // The token as docs/agent.md recommends: a 0600 file.
  const tokenFile = path.join(makeDataDir(t), 'token')
  writeFileSync(tokenFile, `${agentToken as string}\n`, { mode: 0o600 })
  const wsOf = (url: string): string => `${url.replace('http', 'ws')}/agent/v1`
  const agent = spawn(process.execPath, [MAIN], {
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/',
      LOG_LEVEL: 'warn',
      AGENT_GAME_USER: 'gpdaemon',
      AGENT_STATS_INTERVAL_MS: '250',
      AGENT_HUB_URL: `${wsOf(a.url)},${wsOf(b.url)}`,
      AGENT_TOKEN_FILE: tokenFile,
      AGENT_DATA_DIR: dataDir
    },
    stdio: ['ignore', 'ignore', 'inherit']
  })
  t.teardown(() => {
    agent.kill('SIGKILL')
    killRecordedGames(dataDir)
  })
  await acked(gameId, 1)
  await acked(hogId, 1)
  const before = await prisma.node.findUnique({ where: { id: node.id }, select: { connected: true, connectionId: true } })
  t.ok(before?.connected === true && before.connectionId !== null, 'the agent is connected (to A, the first URL)')

  // START through B: delivered across hubs to A, which holds the agent.
  t.match(await act(b, token, gameId, { action: 'START' }), { state: 'SUCCEEDED' })
  const pid = (JSON.parse(readFileSync(path.join(dataDir, 'run', gameId, 'state.json'), 'utf8')) as { process: { pid: number } }).process.pid

  // Hub A dies without a word: the agent must notice, back off and try B.
  a.child.kill('SIGKILL')
  await once(a.child, 'exit')
  await waitFor('the agent connected again, to B', async () => {
    const now = await prisma.node.findUnique({ where: { id: node.id }, select: { connected: true, connectionId: true } })
    return now?.connected === true && now.connectionId !== before?.connectionId
  })
  t.equal((await b.request('GET', `/api/servers/${gameId}`, { token })).body.status, 'RUNNING', 'B reports the game RUNNING')
  t.doesNotThrow(() => process.kill(pid, 0), 'the same game process still runs')

  const panel = createPanelClient({ url: b.url, token, timeoutMs: 20_000 })
  t.teardown(() => panel.close())
  await panel.connect()
  t.match(await panel.subscribe({ servers: [gameId], console: true }), { type: 'subscribed' })
  t.match(await act(b, token, gameId, { action: 'COMMAND', input: 'after the failover' }), { state: 'SUCCEEDED' })
  await panel.next((f) => f.type === 'console' && f.serverId === gameId && (f.lines as string[]).includes('echo: after the failover'))

  // A memory limit set through the hub (on B, after the move) reaches the agent and is enforced.
  const patched = await b.request('PATCH', `/api/servers/${hogId}`, { token, body: { memoryLimitMb: 64 } })
  t.equal(patched.status, 200, 'PATCH memoryLimitMb', { body: patched.body })
  await acked(hogId, (await b.request('GET', `/api/servers/${hogId}`, { token })).body.configRevision as number)
  t.match(await act(b, token, hogId, { action: 'START' }), { state: 'SUCCEEDED' })
  const crashed = await waitFor('the hog CRASHED for its memory', async () => {
    const items = (await b.request('GET', `/api/servers/${hogId}/transitions`, { token })).body.items as Array<{ to: string, reason: string | null }>
    return items.find((h) => h.to === 'CRASHED')
  })
  t.match(crashed.reason, /^memory limit exceeded: \d+ MiB used of 64 MiB \(watched by the agent in \/proc; killed with SIGKILL\)/)

  t.match(await act(b, token, gameId, { action: 'STOP' }), { state: 'SUCCEEDED' })
  await waitFor('STOPPED', async () => (await b.request('GET', `/api/servers/${gameId}`, { token })).body.status === 'STOPPED')
})
