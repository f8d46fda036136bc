// Console state over a hub's and a server's life: after a hub restart the ring is empty and the
// agent's `replay` run refills it (PROTOCOL.md 1.1), so a panel subscribing gets those lines; a
// deleted server (REST, on any hub) releases its ring, stats and watchers on every hub, and its
// agent's late lines are refused instead of filling a new ring; the node deleted after it leaves
// nothing behind; /metrics shows the dropped lines and what is held.
import t, { type Test } from 'tap'
import { createPanelClient } from '../../agent-simulator/panel-client.ts'
import { startTestHub, type TestHub } from '../helpers/hub.ts'
import { addNode, connectRaw } from '../helpers/raw-agent.ts'
import { waitFor } from '../helpers/wait.ts'

async function agentOn (t: Test, hub: TestHub, token: string, serverIds: string[]) {
  const agent = await connectRaw(hub, token)
  t.teardown(() => agent.close())
  agent.send({ type: 'hello', protocol: 1, agentVersion: 'raw', features: ['console', 'stats'], servers: serverIds.map(serverId => ({ serverId, status: 'RUNNING', seq: 1 })) })
  await agent.next('welcome')
  return agent
}

async function panelOn (t: Test, hub: TestHub) {
  const p = createPanelClient({ url: hub.url, token: await hub.adminToken(), timeoutMs: 5_000 })
  t.teardown(() => p.terminate())
  await p.connect()
  return p
}

const stats = (serverId: string) => ({ type: 'stats', serverId, at: new Date().toISOString(), cpuPercent: 1, memoryBytes: 1000, uptimeMs: 5 })

t.test('after a hub restart the agent\'s replay run is the ring a subscribing panel gets', async t => {
  const first = await startTestHub(t, { heartbeatMs: 60_000 })
  const { agentToken, servers: [s1] } = await addNode(first, 'n1')
  const before = await agentOn(t, first, agentToken, [s1!])
  before.send({ type: 'console', serverId: s1, lines: ['old 1', 'old 2'] })
  await waitFor('the first hub has the lines', async () => first.app.consoleHub.lines(s1!).length === 2)
  await first.app.close()
  await before.closed

  // The restarted hub (same database, fresh memory) holds nothing until the agent replays.
  const hub = await startTestHub(t, { heartbeatMs: 60_000 }, { databaseUrl: first.databaseUrl })
  const agent = await agentOn(t, hub, agentToken, [s1!])
  t.same(hub.app.consoleHub.lines(s1!), [], 'a restarted hub starts with an empty ring')
  agent.send({ type: 'console', serverId: s1, lines: ['old 1', 'old 2'], replay: true })
  agent.send({ type: 'console', serverId: s1, lines: ['old 3'], replay: true })
  await waitFor('the replay run is in the ring', async () => hub.app.consoleHub.lines(s1!).length === 3)

  const p = await panelOn(t, hub)
  t.equal((await p.subscribe({ servers: [s1!], console: true })).type, 'subscribed')
  const replay = await p.next('console')
  t.match(replay, { serverId: s1, replay: true })
  t.same(replay.lines, ['old 1', 'old 2', 'old 3'], 'the panel gets the agent\'s replay as its replay')
  agent.send({ type: 'console', serverId: s1, lines: ['new'] })
  const live = await p.next('console')
  t.same(live.lines, ['new'])
  t.notOk('replay' in live, 'then live lines')

  // The agent reconnects to the same hub (a dropped connection): its replay run replaces the ring
  // rather than adding to it.
  await agent.close()
  const again = await agentOn(t, hub, agentToken, [s1!])
  again.send({ type: 'console', serverId: s1, lines: ['old 2', 'old 3', 'new'], replay: true })
  await waitFor('the ring is the new replay', async () => hub.app.consoleHub.lines(s1!).join() === 'old 2,old 3,new')
})

t.test('a deleted server releases its console state on every hub; its node deleted after it leaves nothing', async t => {
  const a = await startTestHub(t, { heartbeatMs: 60_000 })
  const b = await startTestHub(t, { heartbeatMs: 60_000 }, { databaseUrl: a.databaseUrl })
  const { nodeId, agentToken, servers: [s1, s2] } = await addNode(a, 'n1', 2)
  const agent = await agentOn(t, a, agentToken, [s1!, s2!])
  for (const s of [s1!, s2!]) {
    agent.send({ type: 'console', serverId: s, lines: [`hello ${s}`] })
    agent.send(stats(s))
  }
  const pa = await panelOn(t, a)
  const pb = await panelOn(t, b)
  t.equal((await pa.subscribe({ servers: [s1!, s2!], console: true, stats: true })).type, 'subscribed')
  t.equal((await pb.subscribe({ servers: [s1!, s2!], console: true, stats: true })).type, 'subscribed')
  await waitFor('hub A holds both servers and hub B\'s interest', async () =>
    a.app.consoleHub.counts().rings === 2 && a.app.consoleHub.counts().stats === 2 && a.app.consoleRelay.remoteServers === 2)
  t.match(a.app.consoleHub.counts(), { rings: 2, stats: 2, watched: 2, panels: 1 })
  t.match(b.app.consoleHub.counts(), { watched: 2, panels: 1 })

  // Deleted through hub B's REST API: hub A hears it over the auth feed.
  t.equal((await b.request('DELETE', `/api/servers/${s1}`, { token: await b.adminToken() })).status, 204)
  await waitFor('hub A released the server', async () => a.app.consoleHub.counts().rings === 1 && a.app.consoleRelay.remoteServers === 1)
  t.match(a.app.consoleHub.counts(), { rings: 1, stats: 1, watched: 1, panels: 1 }, 'hub A: ring, stats and watchers of s1 are gone')
  await waitFor('hub B released the server', async () => b.app.consoleHub.counts().watched === 1)
  t.same(a.app.consoleHub.known(), [s2], 'only s2 is held')

  // The agent has not handled server.removed yet: its late lines are refused, not kept.
  agent.send({ type: 'console', serverId: s1, lines: ['too late'] })
  t.match(await agent.next(m => m.type === 'error' && m.code === 'NOT_YOUR_SERVER'), { code: 'NOT_YOUR_SERVER' })
  t.equal(a.app.consoleHub.counts().rings, 1, 'no new ring for the deleted server')
  agent.send({ type: 'console', serverId: s2, lines: ['still here'] })
  t.same((await pa.next(f => f.type === 'console' && f.lines.includes('still here'))).serverId, s2, 'the other server streams on')

  // The last server, then the node: nothing is left on either hub.
  t.equal((await a.request('DELETE', `/api/servers/${s2}`, { token: await a.adminToken() })).status, 204)
  t.equal((await a.request('DELETE', `/api/nodes/${nodeId}`, { token: await a.adminToken() })).status, 204)
  await waitFor('nothing held', async () => a.app.consoleHub.counts().rings === 0 && b.app.consoleHub.counts().watched === 0)
  t.match(a.app.consoleHub.counts(), { rings: 0, stats: 0, watched: 0, panels: 0 })
  t.match(b.app.consoleHub.counts(), { rings: 0, stats: 0, watched: 0, panels: 0 })
  t.equal(a.app.consoleRelay.remoteServers, 0)
})

t.test('/metrics: console lines dropped (panel, relay) and console state held', async t => {
  const hub = await startTestHub(t, { heartbeatMs: 60_000 })
  const { agentToken, servers: [s1] } = await addNode(hub, 'n1')
  const agent = await agentOn(t, hub, agentToken, [s1!])
  agent.send({ type: 'console', serverId: s1, lines: ['one'] })
  agent.send(stats(s1!))
  await waitFor('held', async () => hub.app.consoleHub.counts().stats === 1 && hub.app.consoleHub.counts().rings === 1)
  const body = String((await hub.request('GET', '/metrics')).body)
  t.match(body, /hub_console_lines_dropped\{where="panel"\} 0/)
  t.match(body, /hub_console_lines_dropped\{where="relay"\} 0/)
  t.match(body, /hub_console_servers\{kind="rings"\} 1/)
  t.match(body, /hub_console_servers\{kind="stats"\} 1/)
  t.match(body, /hub_console_servers\{kind="watched"\} 0/)
})
