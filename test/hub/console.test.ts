// Console output and stats end to end (PROTOCOL.md 1.1 "Console and stats"): features
// negotiation, the hub's ring and replay on subscribe, replay runs replacing the ring, live lines,
// stats, console.send as a COMMAND with its history, NOT_YOUR_SERVER, v1 agents, and revocation of
// servers.console mid-stream. Real hub, PostgreSQL, raw agent socket and the simulator's panel client.
import t, { type Test } from 'tap'
import { createAgentClient } from '../../agent-simulator/agent-client.ts'
import { createPanelClient } from '../../agent-simulator/panel-client.ts'
import { startTestHub, type TestHub } from '../helpers/hub.ts'
import { addNode } from '../helpers/raw-agent.ts'
import { agentWith } from '../helpers/actions.ts'
import { waitFor } from '../helpers/wait.ts'

async function panel (t: Test, hub: TestHub, token: string) {
  const p = createPanelClient({ url: hub.url, token, timeoutMs: 5_000 })
  t.teardown(() => p.terminate())
  const ready = await p.connect()
  return { p, ready }
}

const lines = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => `line ${from + i}`)

t.test('negotiation, replay on subscribe, live lines, stats, console.send and its history', async t => {
  const hub = await startTestHub(t)
  const { nodeId, agentToken, servers: [s1] } = await addNode(hub, 'n1')
  const { agent, welcome } = await agentWith(t, hub, agentToken, { [s1!]: 'RUNNING' }, ['console', 'stats', 'bogus'])
  t.same(welcome.features, ['console', 'stats'], 'welcome.features: the intersection, unknown names ignored')
  t.same((await hub.app.db.prisma.node.findUniqueOrThrow({ where: { id: nodeId } })).features, ['console', 'stats'], "the node's latest features are stored")

  // 250 lines: the ring keeps the last 200.
  for (let i = 0; i < 250; i += 50) agent.send({ type: 'console', serverId: s1, lines: lines(i, i + 50) })
  agent.send({ type: 'stats', serverId: s1, at: new Date().toISOString(), cpuPercent: 12.5, memoryBytes: 1000, uptimeMs: 5 })
  const { p, ready } = await panel(t, hub, await hub.adminToken())
  t.same(ready.features, ['console', 'stats'], 'ready.features')
  // The agent's frames are handled in order: wait until the last one is in the ring.
  for (let n = 0; n < 100 && hub.app.consoleHub.lines(s1!).at(-1) !== 'line 249'; n++) await new Promise(resolve => setTimeout(resolve, 20))

  const answer = await p.subscribe({ servers: [s1!], console: true, stats: true })
  t.equal(answer.type, 'subscribed')
  const first = await p.next('console')
  const second = await p.next('console')
  t.match(first, { serverId: s1, replay: true })
  t.same([...first.lines, ...second.lines], lines(50, 250), 'the last 200 lines, in frames of at most 100, marked replay')
  t.match(await p.next('stats'), { serverId: s1, cpuPercent: 12.5, memoryBytes: 1000 }, 'the latest stats on subscribe')

  agent.send({ type: 'console', serverId: s1, lines: ['live one'] })
  const live = await p.next('console')
  t.same(live.lines, ['live one'])
  t.notOk('replay' in live, 'live lines are not marked replay')
  agent.send({ type: 'stats', serverId: s1, at: new Date().toISOString(), cpuPercent: 50, memoryBytes: 2000, uptimeMs: 1005 })
  t.match(await p.next('stats', 3_000), { cpuPercent: 50 }, 'stats forwarded within the second')

  // A replay run replaces the ring and is not forwarded live.
  agent.send({ type: 'console', serverId: s1, lines: ['r1', 'r2'], replay: true })
  agent.send({ type: 'console', serverId: s1, lines: ['r3'], replay: true })
  agent.send({ type: 'console', serverId: s1, lines: ['after'] })
  t.same((await p.next('console')).lines, ['after'], 'replay frames were not forwarded')
  t.same(hub.app.consoleHub.lines(s1!), ['r1', 'r2', 'r3', 'after'], 'the first replay frame of the connection emptied the ring')

  // console.send: a COMMAND action, delivered with its input, in the history.
  p.sendRaw(JSON.stringify({ type: 'console.send', id: 'c1', serverId: s1, input: 'say hi' }))
  const sent = await p.next('console.sent')
  t.match(sent, { id: 'c1', actionId: String })
  const cmd = await agent.next('command')
  t.match(cmd, { commandId: sent.actionId, action: 'COMMAND', input: 'say hi' })
  agent.send({ type: 'command.ack', commandId: cmd.commandId })
  agent.send({ type: 'command.result', commandId: cmd.commandId, ok: true })
  const done = await p.next(f => f.type === 'event' && f.data.actionId === sent.actionId && f.data.state === 'SUCCEEDED', 5_000)
  t.ok(done, 'action.updated SUCCEEDED reached the panel')
  const history = await hub.request('GET', `/api/servers/${s1}/actions`, { token: await hub.adminToken() })
  t.match(history.body.items[0], { id: sent.actionId, action: 'COMMAND', details: { input: 'say hi' }, state: 'SUCCEEDED' })

  // Bad input on console.send.
  p.sendRaw(JSON.stringify({ type: 'console.send', id: 'c2', serverId: s1, input: 'a\u0000b' }))
  t.match(await p.next('error'), { code: 'BAD_FRAME' }, 'NUL')
  p.sendRaw(JSON.stringify({ type: 'console.send', id: 'c3', serverId: s1, input: 'a\nb' }))
  t.match(await p.next('error'), { code: 'BAD_FRAME' }, 'LF')
})

t.test('bad agent input: another node\'s server, v1 agents, NUL', async t => {
  const hub = await startTestHub(t)
  const { agentToken, servers: [s1] } = await addNode(hub, 'n1')
  const other = await addNode(hub, 'n2')
  const { agent } = await agentWith(t, hub, agentToken, { [s1!]: 'RUNNING' }, ['console'])
  agent.send({ type: 'console', serverId: other.servers[0], lines: ['x'] })
  t.match(await agent.next('error'), { code: 'NOT_YOUR_SERVER' })
  agent.send({ type: 'stats', serverId: s1, at: new Date().toISOString(), cpuPercent: 1, memoryBytes: 1, uptimeMs: 1 })
  t.match(await agent.next('error'), { code: 'BAD_FRAME' }, 'stats was not negotiated')
  agent.send({ type: 'console', serverId: s1, lines: ['a\u0000b'] })
  t.match(await agent.next('error'), { code: 'BAD_FRAME' }, 'NUL in a line')
  agent.send('{"type":"console","type":"status","serverId":"' + s1 + '","status":"STOPPED","seq":5,"at":"' + new Date().toISOString() + '"}')
  t.match(await agent.next('error'), { code: 'BAD_FRAME' }, 'a frame pretending to be console to skip the budget')

  const v1 = await agentWith(t, hub, other.agentToken, { [other.servers[0]!]: 'RUNNING' })
  t.notOk('features' in v1.welcome, 'no welcome.features for a hello without features')
  v1.agent.send({ type: 'console', serverId: other.servers[0], lines: ['x'] })
  t.match(await v1.agent.next('error'), { code: 'BAD_FRAME' })

  // A console flood beyond 200 frames/s is dropped silently: no RATE_LIMITED, no close.
  for (let i = 0; i < 1_000; i++) agent.send({ type: 'console', serverId: s1, lines: [`f${i}`] })
  agent.send({ type: 'status', serverId: s1, status: 'STOPPING', seq: 2, at: new Date().toISOString() })
  t.match(await agent.next('status.ack'), { seq: 2 }, 'the connection works on')
  t.notOk(agent.inbox.some(m => m.code === 'RATE_LIMITED'), 'no RATE_LIMITED for console frames')
})

t.test('console of a server created after hello is accepted (its config came by provisioning)', async t => {
  const hub = await startTestHub(t)
  const { nodeId, agentToken, servers: [s1] } = await addNode(hub, 'n1')
  const other = await addNode(hub, 'n2')
  const { agent } = await agentWith(t, hub, agentToken, { [s1!]: 'RUNNING' }, ['console'])
  const prisma = hub.app.db.prisma
  const alt = await prisma.alt.findFirstOrThrow()
  const admin = await prisma.user.findFirstOrThrow({ where: { username: 'admin' } })
  const later = (await prisma.server.create({ data: { name: 'later', port: 28000, nodeId, altId: alt.id, ownerId: admin.id } })).id
  agent.send({ type: 'console', serverId: later, lines: ['made after hello'] })
  agent.send({ type: 'console', serverId: other.servers[0], lines: ['not mine'] })
  t.match(await agent.next('error'), { code: 'NOT_YOUR_SERVER', ref: other.servers[0] }, "another node's server is still refused")
  for (let n = 0; n < 100 && hub.app.consoleHub.lines(later).length === 0; n++) await new Promise(resolve => setTimeout(resolve, 20))
  t.same(hub.app.consoleHub.lines(later), ['made after hello'], 'in the ring of the new server')
  t.notOk(agent.inbox.some(m => m.code === 'NOT_YOUR_SERVER' && m.ref === later), 'never refused')
})

t.test('servers.console: needed to watch and to send; revoked mid-stream, the status stream stays', async t => {
  const hub = await startTestHub(t)
  const admin = await hub.adminToken()
  const { agentToken, servers: [s1] } = await addNode(hub, 'n1')
  const { agent } = await agentWith(t, hub, agentToken, { [s1!]: 'RUNNING' }, ['console'])
  const user = await hub.request('POST', '/api/users', { token: admin, body: { username: 'viewer1', email: 'viewer1@example.test', password: 'password-v1' } })
  await hub.request('POST', `/api/users/${user.body.id}/permissions`, { token: admin, body: { permission: 'servers.view' } })
  const { p } = await panel(t, hub, await hub.login('viewer1', 'password-v1'))
  t.match(await p.subscribe({ servers: [s1!], console: true }), { type: 'error', code: 'FORBIDDEN' }, 'no console without servers.console')
  p.sendRaw(JSON.stringify({ type: 'console.send', id: 'x', serverId: s1, input: 'op me' }))
  t.match(await p.next('error'), { id: 'x', code: 'FORBIDDEN' })

  await hub.request('POST', `/api/users/${user.body.id}/permissions`, { token: admin, body: { permission: 'servers.console' } })
  // A grant reaches live sessions through the auth feed (a NOTIFY), a moment after the REST answer.
  t.match(await waitFor('the grant applied', async () => { const a = await p.subscribe({ servers: [s1!], console: true }); return a.type === 'subscribed' && a }), { type: 'subscribed' })
  agent.send({ type: 'console', serverId: s1, lines: ['visible'] })
  t.same((await p.next('console')).lines, ['visible'])

  await hub.request('DELETE', `/api/users/${user.body.id}/permissions/servers.console`, { token: admin })
  t.match(await p.next('error'), { code: 'FORBIDDEN', data: { console: [s1] } }, 'revocation ends the console subscription')
  agent.send({ type: 'console', serverId: s1, lines: ['hidden'] })
  agent.send({ type: 'status', serverId: s1, status: 'STOPPING', seq: 2, at: new Date().toISOString() })
  t.match(await p.next(f => f.type === 'event' && f.kind === 'server.status'), { data: { to: 'STOPPING' } }, 'the status stream stays')
  t.notOk(p.drain().some(f => f.type === 'console'), 'no console line after the revocation')
})

t.test('the simulator\'s agent client speaks console and stats; a slow reader loses lines, not events', async t => {
  const hub = await startTestHub(t, { panelHighWaterBytes: 64 * 1024 })
  const { agentToken, servers: [s1] } = await addNode(hub, 'n1')
  const agent = createAgentClient({ url: hub.url.replace('http', 'ws') + '/agent/v1', token: agentToken, servers: [{ serverId: s1!, status: 'RUNNING', seq: 1 }], features: ['console', 'stats'] })
  t.teardown(() => agent.close())
  await agent.connect()
  t.same(agent.features, ['console', 'stats'])
  const { p } = await panel(t, hub, await hub.adminToken())
  t.match(await p.subscribe({ servers: [s1!], console: true }), { type: 'subscribed' })
  t.ok(agent.sendConsole(s1!, ['hello from the client']))
  t.same((await p.next('console')).lines, ['hello from the client'])

  // The panel stops reading; the agent writes ~16 KiB frames within its 200/s budget for a while.
  p.pauseReading()
  const big = Array.from({ length: 100 }, (_, i) => `${i} ${'x'.repeat(150)}`)
  for (let i = 0; i < 40; i++) {
    for (let k = 0; k < 20; k++) agent.sendConsole(s1!, big)
    await new Promise(resolve => setTimeout(resolve, 110))
  }
  const ack = agent.report(s1!, 'STOPPING')
  await ack
  p.resumeReading()
  const status = await p.next(f => f.type === 'event' && f.kind === 'server.status', 10_000)
  t.match(status, { data: { to: 'STOPPING' } }, 'the status event arrives')
  agent.sendConsole(s1!, ['after the stall'])
  const last = await p.next(f => f.type === 'console' && f.lines.includes('after the stall'), 10_000)
  const dropped = [...p.drain(), last].filter(f => f.type === 'console').reduce((n, f) => n + (f.dropped ?? 0), 0)
  t.ok(dropped > 0, `the slow reader was told it lost ${dropped} lines`)
  t.notOk(p.state.resyncs > 0, 'no resync for console lines')
})
