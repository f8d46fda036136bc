// Issue 11's "Done when": exactly what docs/agent.md tells a new user, against a real hub and a real
// agent process (`node src/agent/main.ts`): a node, a template and a server made over REST, the agent
// started with the node's token receives the server's configuration from the hub and acks it, then
// START, COMMAND (echoed to a panel subscribed to the console) and STOP drive a real fixture game.
// A configuration change made while the agent is stopped reaches it after it restarts.
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import t from 'tap'
import { createPanelClient } from '../../agent-simulator/panel-client.ts'
import { startTestHub } from '../helpers/hub.ts'
import { GAME, makeDataDir, type Teardown } from './helpers.ts'
import { waitFor as waitUntil } from '../helpers/wait.ts'
import { act } from '../helpers/actions.ts'

const MAIN = new URL('../../src/agent/main.ts', import.meta.url).pathname

const waitFor = async <T>(what: string, fn: () => Promise<T | undefined | null | false>, ms = 20_000): Promise<T> => await waitUntil(what, fn, ms, 50)

function startAgentProcess (t: Teardown, env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, [MAIN], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/', LOG_LEVEL: 'warn', AGENT_GAME_USER: 'gpdaemon', ...env },
    stdio: ['ignore', 'ignore', 'inherit']
  })
  t.teardown(() => child.kill('SIGKILL'))
  return child
}

t.test('docs/agent.md end to end: REST-made node, template and server; a real agent process runs the game', async (t) => {
  const hub = await startTestHub(t)
  const token = await hub.adminToken()
  const status = async (id: string) => (await hub.request('GET', `/api/servers/${id}`, { token })).body

  // The documented requests.
  const created = await hub.request('POST', '/api/nodes', { token, body: { name: 'host-1' } })
  t.equal(created.status, 201, 'POST /api/nodes')
  const { node, agentToken } = created.body
  const alt = await hub.request('POST', '/api/alts', {
    token,
    body: {
      name: 'fixture-game',
      image: 'none',
      startup: `/bin/sh ${GAME}`,
      stop: { type: 'command', value: 'stop' },
      doneRegex: 'Done',
      // The install script is a shell script: the server's variables are in its environment.
      install: 'echo "installing $GREETING"; echo installed > installed.txt',
      variables: [{ name: 'GREETING', default: 'hello' }, { name: 'DONE_DELAY', default: '0.2' }]
    }
  })
  t.equal(alt.status, 201, 'POST /api/alts', { body: alt.body })
  const me = (await hub.request('GET', '/api/me', { token })).body
  const server = await hub.request('POST', '/api/servers', {
    token,
    body: { name: 's1', nodeId: node.id, altId: alt.body.id, ownerId: me.id, port: 25565, autoRestart: { enabled: true, maxRestarts: 3, windowS: 60 } }
  })
  t.equal(server.status, 201, 'POST /api/servers', { body: server.body })
  const serverId = server.body.id as string

  // The agent, as docs/agent.md starts it.
  const dataDir = makeDataDir(t)
  const env = { AGENT_HUB_URL: `${hub.url.replace('http', 'ws')}/agent/v1`, AGENT_TOKEN: agentToken, AGENT_DATA_DIR: dataDir }
  let agent = startAgentProcess(t, env)
  const revision = (await status(serverId)).configRevision as number
  await waitFor('the config ack', async () => {
    const row = await hub.app.db.prisma.server.findUnique({ where: { id: serverId }, select: { configAckedRevision: true } })
    return row?.configAckedRevision === revision
  })

  const panel = createPanelClient({ url: hub.url, token, timeoutMs: 20_000 })
  t.teardown(() => panel.close())
  await panel.connect()
  t.match(await panel.subscribe({ servers: [serverId], console: true }), { type: 'subscribed' })
  const seen: string[] = []
  const consoleLine = async (pattern: RegExp) => {
    try {
      return await panel.next((f) => {
        if (f.type !== 'console' || f.serverId !== serverId) return false
        if (!seen.includes(f.lines[0])) seen.push(...(f.lines as string[]))
        return (f.lines as string[]).some((l) => pattern.test(l))
      })
    } catch (err) {
      throw new Error(`${(err as Error).message}; console lines seen: ${JSON.stringify(seen.slice(-20))}`)
    }
  }

  // INSTALL: INSTALLING -> STOPPED, its output on the console.
  t.match(await act(hub, token, serverId, { action: 'INSTALL' }), { state: 'SUCCEEDED' })
  await consoleLine(/installing hello/)
  await waitFor('STOPPED after the install', async () => (await status(serverId)).status === 'STOPPED')

  t.match(await act(hub, token, serverId, { action: 'START' }), { state: 'SUCCEEDED' })
  t.equal((await status(serverId)).status, 'RUNNING')

  t.match(await act(hub, token, serverId, { action: 'COMMAND', input: 'say hello' }), { state: 'SUCCEEDED' })
  await consoleLine(/^echo: say hello$/)
  const listed = (await hub.request('GET', `/api/servers/${serverId}/actions`, { token })).body.items
  t.ok(listed.some((a: { action: string, state: string }) => a.action === 'COMMAND' && a.state === 'SUCCEEDED'), 'the COMMAND is SUCCEEDED in the list')

  // The agent SIGKILLed while the game runs: the next agent re-adopts it, the hub keeps RUNNING,
  // and the game's console still works.
  agent.kill('SIGKILL')
  await once(agent, 'exit')
  agent = startAgentProcess(t, env)
  t.match(await act(hub, token, serverId, { action: 'COMMAND', input: 'still there' }), { state: 'SUCCEEDED' })
  await consoleLine(/^echo: still there$/)
  t.equal((await status(serverId)).status, 'RUNNING', 'still RUNNING after the agent was SIGKILLed')

  // Crash -> CRASHED -> automatic restart -> RUNNING.
  await act(hub, token, serverId, { action: 'COMMAND', input: 'crash' })
  await waitFor('CRASHED then RUNNING again', async () => {
    const history = (await hub.request('GET', `/api/servers/${serverId}/transitions`, { token })).body.items as Array<{ to: string }>
    const tos = history.map((h) => h.to).reverse()
    const crashed = tos.lastIndexOf('CRASHED')
    return crashed >= 0 && tos.slice(crashed).includes('RUNNING')
  })

  t.match(await act(hub, token, serverId, { action: 'STOP' }), { state: 'SUCCEEDED' })
  await waitFor('STOPPED', async () => (await status(serverId)).status === 'STOPPED')

  // A configuration change while the agent is down reaches it after it restarts.
  agent.kill('SIGTERM')
  await once(agent, 'exit')
  const patched = await hub.request('PATCH', `/api/servers/${serverId}`, { token, body: { environment: { GREETING: 'changed' } } })
  t.equal(patched.status, 200, 'PATCH /api/servers/:id', { body: patched.body })
  const next = (await status(serverId)).configRevision as number
  t.ok(next > revision, 'the revision moved')
  // This time with the hub's base address, which the agent completes with /agent/v1.
  agent = startAgentProcess(t, { ...env, AGENT_HUB_URL: hub.url.replace('http', 'ws') })
  await waitFor('the new config ack', async () => {
    const row = await hub.app.db.prisma.server.findUnique({ where: { id: serverId }, select: { configAckedRevision: true } })
    return row?.configAckedRevision === next
  })
  t.match(await act(hub, token, serverId, { action: 'INSTALL' }), { state: 'SUCCEEDED' })
  await consoleLine(/installing changed/)
  agent.kill('SIGTERM')
  await once(agent, 'exit')
})

t.test('a crash loop through the hub: restarted up to maxRestarts, then it stays CRASHED', async (t) => {
  const hub = await startTestHub(t)
  const token = await hub.adminToken()
  const { node, agentToken } = (await hub.request('POST', '/api/nodes', { token, body: { name: 'host-2' } })).body
  const alt = await hub.request('POST', '/api/alts', { token, body: { name: 'crasher', image: 'none', startup: 'echo Done; sleep 0.2; exit 3', doneRegex: 'Done' } })
  t.equal(alt.status, 201, 'POST /api/alts', { body: alt.body })
  const me = (await hub.request('GET', '/api/me', { token })).body
  const server = await hub.request('POST', '/api/servers', {
    token,
    body: { name: 'loop', nodeId: node.id, altId: alt.body.id, ownerId: me.id, port: 25566, autoRestart: { enabled: true, maxRestarts: 1, windowS: 60 } }
  })
  t.equal(server.status, 201, 'POST /api/servers', { body: server.body })
  const serverId = server.body.id as string
  startAgentProcess(t, { AGENT_HUB_URL: `${hub.url.replace('http', 'ws')}/agent/v1`, AGENT_TOKEN: agentToken, AGENT_DATA_DIR: makeDataDir(t) })
  await waitFor('the config ack', async () =>
    (await hub.app.db.prisma.server.findUnique({ where: { id: serverId }, select: { configAckedRevision: true } }))?.configAckedRevision === 1)
  await act(hub, token, serverId, { action: 'START' })
  const history = await waitFor('the crash-loop verdict', async () => {
    const items = (await hub.request('GET', `/api/servers/${serverId}/transitions`, { token })).body.items as Array<{ to: string, reason: string | null }>
    return items.some((h) => h.to === 'CRASHED' && /crash loop/.test(h.reason ?? '')) ? items : undefined
  })
  t.equal(history.filter((h) => h.to === 'STARTING').length, 2, 'the first start and one automatic restart')
  t.equal((await hub.request('GET', `/api/servers/${serverId}`, { token })).body.status, 'CRASHED')
})
