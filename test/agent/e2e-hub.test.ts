// The agent against the real hub (real PostgreSQL, pg-boss, WebSockets): a node and a server made
// over REST, the agent started with the node's token, then START and STOP through the action API
// drive a real fixture process, and the hub records its statuses. The hub sends `server.config`
// itself, from a fixture template made over POST /api/alts (provisioned-e2e.test.ts follows
// docs/agent.md step by step with a real agent process).
import t from 'tap'
import { startAgent } from '../../src/agent/agent.ts'
import { loadAgentConfig } from '../../src/agent/config.ts'
import { SILENT_LOGGER } from '../../src/agent/types.ts'
import { startTestHub, type TestHub } from '../helpers/hub.ts'
import { GAME, killGames, makeDataDir } from './helpers.ts'
import { waitFor as waitUntil } from '../helpers/wait.ts'

const waitFor = async <T>(what: string, fn: () => Promise<T | undefined | null | false>, ms = 15_000): Promise<T> => await waitUntil(what, fn, ms, 50)

async function act (hub: TestHub, serverId: string, action: string) {
  const token = await hub.adminToken()
  const res = await hub.request('POST', `/api/servers/${serverId}/actions`, { token, body: { action } })
  if (res.status !== 202) throw new Error(`${action}: ${res.status} ${JSON.stringify(res.body)}`)
  return await waitFor(`${action} to finish`, async () => {
    const a = (await hub.request('GET', `/api/actions/${res.body.actionId as string}`, { token })).body
    return ['SUCCEEDED', 'FAILED', 'EXPIRED', 'CANCELLED'].includes(a.state) ? a : undefined
  })
}

t.test('REST -> hub -> agent -> real process, and back; the first of two hubs dies', async (t) => {
  const hub = await startTestHub(t)
  const second = await startTestHub(t, {}, { databaseUrl: hub.databaseUrl })
  const admin = await hub.adminToken()
  const created = await hub.request('POST', '/api/nodes', { token: admin, body: { name: 'host-1' } })
  t.equal(created.status, 201)
  const { node, agentToken } = created.body
  const me = (await hub.request('GET', '/api/me', { token: admin })).body
  // Not a seeded template: their startup runs real game binaries this machine does not have.
  const alt = (await hub.request('POST', '/api/alts', {
    token: admin,
    body: { name: 'fixture', image: 'none', startup: `/bin/sh ${GAME}`, stop: { type: 'command', value: 'stop', graceS: 5 }, doneRegex: '^Done \\(' }
  })).body
  const server = await hub.request('POST', '/api/servers', { token: admin, body: { name: 's1', nodeId: node.id, altId: alt.id, ownerId: me.id, port: 25565 } })
  t.equal(server.status, 201)
  const serverId = server.body.id as string

  const dataDir = makeDataDir(t)
  const welcomed: string[] = []
  const agent = startAgent({
    config: loadAgentConfig({
      AGENT_HUB_URL: [hub, second].map((h) => `${h.url.replace('http', 'ws')}/agent/v1`).join(','), AGENT_TOKEN: agentToken, AGENT_DATA_DIR: dataDir
    }),
    log: SILENT_LOGGER,
    isRoot: false,
    backoff: { baseMs: 50, maxMs: 500 },
    onWelcome: ({ url }) => welcomed.push(url)
  })
  t.teardown(async () => {
    killGames(agent.supervisor)
    await agent.close()
  })
  await waitFor('welcome', async () => welcomed.length > 0)
  await waitFor('the configuration from the hub', async () => agent.supervisor.config(serverId) !== undefined)

  t.match(await act(hub, serverId, 'START'), { state: 'SUCCEEDED' })
  t.match((await hub.request('GET', `/api/servers/${serverId}`, { token: admin })).body, { status: 'RUNNING' })
  t.ok(agent.supervisor.unit(serverId)?.pid, 'a real process runs')

  // The first hub goes away: the agent moves to the second, and the game never noticed.
  await hub.app.close()
  await waitFor('a welcome from the second hub', async () => welcomed.length > 1 && welcomed.at(-1)?.startsWith(second.url.replace('http', 'ws')))
  const token2 = await second.adminToken()
  t.match(await act(second, serverId, 'STOP'), { state: 'SUCCEEDED' })
  await waitFor('STOPPED at the hub', async () =>
    (await second.request('GET', `/api/servers/${serverId}`, { token: token2 })).body.status === 'STOPPED')
  const history = (await second.request('GET', `/api/servers/${serverId}/transitions`, { token: token2 })).body.items
  t.same(history.map((h: { to: string }) => h.to).reverse(), ['STARTING', 'RUNNING', 'STOPPING', 'STOPPED'])
  t.match(history[0].reason, /stopped \(exited with code 0\)/)
})
