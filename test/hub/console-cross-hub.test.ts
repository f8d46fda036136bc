// Console and stats across hubs (console/console-relay.ts): a panel on hub B watching a server whose
// agent is on hub A gets A's ring as replay, then live lines and stats; unsubscribing stops the
// lines; revoking servers.console (on either hub) ends it; the agent moving to B keeps the stream.
// Two real hubs sharing one PostgreSQL, a raw agent socket and the simulator's panel client.
import t, { type Test } from 'tap'
import { createPanelClient } from '../../agent-simulator/panel-client.ts'
import { startTestHub, type TestHub } from '../helpers/hub.ts'
import { addNode, connectRaw } from '../helpers/raw-agent.ts'

async function agentOn (t: Test, hub: TestHub, token: string, serverId: string) {
  const agent = await connectRaw(hub, token)
  t.teardown(() => agent.close())
  agent.send({ type: 'hello', protocol: 1, agentVersion: 'raw', features: ['console', 'stats'], servers: [{ serverId, status: 'RUNNING', seq: 1 }] })
  await agent.next('welcome')
  return agent
}

async function panelOn (t: Test, hub: TestHub, token: string) {
  const p = createPanelClient({ url: hub.url, token, timeoutMs: 5_000 })
  t.teardown(() => p.terminate())
  await p.connect()
  return p
}

const stats = (serverId: string, cpuPercent: number) => ({ type: 'stats', serverId, at: new Date().toISOString(), cpuPercent, memoryBytes: 1000, uptimeMs: 5 })

/** Until `check` holds, polled on the event loop (no fixed sleep); fails after `ms`. */
async function until (check: () => boolean, ms = 5_000): Promise<void> {
  const end = Date.now() + ms
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out')
    await new Promise(resolve => setImmediate(resolve))
  }
}

t.test('a panel on hub B: replay, live lines and stats of an agent on hub A; unsubscribe; the agent moves to B', async t => {
  const a = await startTestHub(t, { heartbeatMs: 60_000 })
  const b = await startTestHub(t, { heartbeatMs: 60_000 }, { databaseUrl: a.databaseUrl })
  const { agentToken, servers: [s1] } = await addNode(a, 'n1')
  const agent = await agentOn(t, a, agentToken, s1!)
  agent.send({ type: 'console', serverId: s1, lines: ['old 1', 'old 2', 'old 3'] })
  agent.send(stats(s1!, 7))
  await until(() => a.app.consoleHub.lines(s1!).length === 3 && a.app.consoleHub.latestStats(s1!) !== undefined)

  const p = await panelOn(t, b, await b.adminToken())
  t.match(await p.subscribe({ servers: [s1!], console: true, stats: true }), { type: 'subscribed' })
  const replay = await p.next('console')
  t.match(replay, { serverId: s1, replay: true, lines: ['old 1', 'old 2', 'old 3'] }, "hub A's ring, as replay")
  t.match(await p.next('stats'), { serverId: s1, cpuPercent: 7 }, "hub A's latest stats on subscribe")

  agent.send({ type: 'console', serverId: s1, lines: ['live 1'] })
  const live = await p.next('console')
  t.same(live.lines, ['live 1'], 'live lines follow the replay')
  t.notOk('replay' in live)
  agent.send(stats(s1!, 55))
  t.match(await p.next('stats', 3_000), { cpuPercent: 55 }, 'live stats, coalesced on hub A')
  t.same(b.app.consoleHub.lines(s1!), [], 'hub B keeps no ring of a server it does not hold')

  // Unsubscribe the console only: the stats still come, the lines do not.
  p.sendRaw(JSON.stringify({ type: 'unsubscribe', id: 900, servers: [s1], console: true }))
  await p.ping() // handled after the unsubscribe
  agent.send({ type: 'console', serverId: s1, lines: ['not for you'] })
  agent.send(stats(s1!, 66))
  t.match(await p.next('stats', 3_000), { cpuPercent: 66 })
  t.notOk(p.drain().some(f => f.type === 'console'), 'no console line after unsubscribe')

  // The agent moves to hub B: the stream goes on.
  t.match(await p.subscribe({ servers: [s1!], console: true }), { type: 'subscribed' })
  t.match(await p.next('console'), { replay: true }, 'the replay again on the new subscription')
  agent.close()
  const moved = await agentOn(t, b, agentToken, s1!)
  moved.send({ type: 'console', serverId: s1, lines: ['on b'] })
  t.same((await p.next(f => f.type === 'console' && f.lines.includes('on b'))).lines, ['on b'], 'lines of the agent now on hub B')
})

for (const where of ['A', 'B'] as const) {
  t.test(`servers.console revoked on hub ${where} ends the cross-hub stream`, async t => {
    const a = await startTestHub(t, { heartbeatMs: 60_000 })
    const b = await startTestHub(t, { heartbeatMs: 60_000 }, { databaseUrl: a.databaseUrl })
    const admin = await a.adminToken()
    const { agentToken, servers: [s1] } = await addNode(a, 'n1')
    const agent = await agentOn(t, a, agentToken, s1!)
    const user = await a.request('POST', '/api/users', { token: admin, body: { username: 'viewer1', email: 'viewer1@example.test', password: 'password-v1' } })
    for (const permission of ['servers.view', 'servers.console']) {
      await a.request('POST', `/api/users/${user.body.id}/permissions`, { token: admin, body: { permission } })
    }
    agent.send({ type: 'console', serverId: s1, lines: ['first'] })
    await until(() => a.app.consoleHub.lines(s1!).length === 1)
    const p = await panelOn(t, b, await b.login('viewer1', 'password-v1'))
    t.match(await p.subscribe({ servers: [s1!], console: true }), { type: 'subscribed' })
    t.match(await p.next('console'), { replay: true, lines: ['first'] })
    agent.send({ type: 'console', serverId: s1, lines: ['visible'] })
    t.same((await p.next('console')).lines, ['visible'])

    const on = where === 'A' ? a : b
    await on.request('DELETE', `/api/users/${user.body.id}/permissions/servers.console`, { token: await on.adminToken() })
    t.match(await p.next('error'), { code: 'FORBIDDEN', data: { console: [s1] } })
    agent.send({ type: 'console', serverId: s1, lines: ['hidden'] })
    agent.send({ type: 'status', serverId: s1, status: 'STOPPING', seq: 2, at: new Date().toISOString() })
    await p.next(f => f.type === 'event' && f.kind === 'server.status')
    t.notOk(p.drain().some(f => f.type === 'console'), 'no console line after the revocation')
  })
}

t.test('a panel on hub A keeps its stream when the agent moves from A to B', async t => {
  const a = await startTestHub(t, { heartbeatMs: 60_000 })
  const b = await startTestHub(t, { heartbeatMs: 60_000 }, { databaseUrl: a.databaseUrl })
  const { agentToken, servers: [s1] } = await addNode(a, 'n1')
  const agent = await agentOn(t, a, agentToken, s1!)
  const p = await panelOn(t, a, await a.adminToken())
  t.match(await p.subscribe({ servers: [s1!], console: true }), { type: 'subscribed' })
  agent.send({ type: 'console', serverId: s1, lines: ['on a'] })
  t.same((await p.next('console')).lines, ['on a'])
  // Hub A announced its panel's interest to every hub: wait until B has it (no fixed sleep).
  await until(() => hasInterest(b, s1!))
  agent.close()
  const moved = await agentOn(t, b, agentToken, s1!)
  moved.send({ type: 'console', serverId: s1, lines: ['on b'] })
  t.same((await p.next(f => f.type === 'console' && f.lines.includes('on b'))).lines, ['on b'], 'forwarded from B to the panel on A')
})

/** Whether hub `h` would forward lines of `serverId` to another hub. */
function hasInterest (h: TestHub, serverId: string): boolean {
  return h.app.consoleRelay.interestedHubs(serverId).length > 0
}
