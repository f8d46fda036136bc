// server.config / server.config.ack / server.removed end to end (PROTOCOL.md 1.1), with a raw
// agent over real sockets against a real hub and PostgreSQL: configurations after welcome, on
// change, after a reconnect for changes made offline; acks stored; removals; v1 agents get none.
import t from 'tap'
import { startTestHub } from '../../helpers/hub.ts'
import { addNode, connectRaw, type RawAgent } from '../../helpers/raw-agent.ts'
import { waitFor } from '../../helpers/wait.ts'

type Entry = { serverId: string, status?: string, seq?: number, configRevision?: number }
const hello = async (agent: RawAgent, servers: Entry[], features?: string[]) => {
  agent.send({ type: 'hello', protocol: 1, agentVersion: 'raw', servers: servers.map(s => ({ status: 'STOPPED', seq: 0, ...s })), ...(features === undefined ? {} : { features }) })
  return await agent.next('welcome')
}

t.test('provision agents: config after welcome, on change, after reconnect; acks; removals', async t => {
  const hub = await startTestHub(t)
  const admin = await hub.adminToken()
  const node = await addNode(hub, 'n1', 0)
  const owner = (await hub.request('GET', '/api/me', { token: admin })).body.id as string
  const alt = (await hub.request('GET', '/api/alts', { token: admin })).body.items.find((a: { name: string }) => a.name === 'minecraft-java')
  const created = await hub.request('POST', '/api/servers', {
    token: admin,
    body: { name: 'mc', nodeId: node.nodeId, altId: alt.id, ownerId: owner, port: 25565, memoryLimitMb: 2048, environment: { EULA: 'TRUE' } }
  })
  t.equal(created.status, 201, JSON.stringify(created.body))
  const serverId = created.body.id as string
  const revision = async () => await hub.app.db.prisma.server.findUniqueOrThrow({ where: { id: serverId }, select: { configRevision: true, configAckedRevision: true } })

  // Created while the agent was offline: it arrives after welcome.
  let agent = await connectRaw(hub, node.agentToken)
  const welcome = await hello(agent, [], ['provision', 'unknown-feature'])
  t.same(welcome.features, ['provision'], 'the intersection with what the hub enables')
  const first = await agent.next('server.config')
  t.match(first, { serverId, revision: 1, name: 'mc', port: 25565, memoryLimitMb: 2048, stop: { type: 'command', value: 'stop' }, doneRegex: String, install: String })
  t.equal(first.startup, "java -Xms128M -Xmx'2048'M -jar 'server.jar' nogui")
  t.same(first.environment, { SERVER_JARFILE: 'server.jar', DOWNLOAD_URL: '', EULA: 'TRUE', SERVER_PORT: '25565' }, 'variables (defaults included) and SERVER_PORT')
  agent.send({ type: 'server.config.ack', serverId, revision: 1 })

  // A change while online arrives at once.
  t.equal((await hub.request('PATCH', `/api/servers/${serverId}`, { token: admin, body: { environment: { EULA: 'TRUE', SERVER_JARFILE: 'paper.jar' } } })).status, 200)
  const second = await agent.next('server.config')
  t.match(second, { serverId, revision: 2 })
  t.match(second.startup, /'paper\.jar'/)
  // Acks are stored asynchronously (batched per hub), so the row is polled rather than read once.
  const acked = async (n: number) => await waitFor(`ack ${n} stored`, async () => { const r = await revision(); return r.configAckedRevision === n && r })
  t.same(await acked(1), { configRevision: 2, configAckedRevision: 1 }, 'the first ack is stored')
  agent.send({ type: 'server.config.ack', serverId, revision: 2 })
  agent.send({ type: 'server.config.ack', serverId, revision: 1 })
  agent.send({ type: 'server.config.ack', serverId: '00000000-0000-4000-8000-000000000000', revision: 1 })
  t.match(await agent.next('error'), { code: 'NOT_YOUR_SERVER', ref: '00000000-0000-4000-8000-000000000000:1' }, 'an ack for a server not on the node')
  t.same(await acked(2), { configRevision: 2, configAckedRevision: 2 }, 'acked; the stale ack changed nothing')
  await agent.close()

  // Changed while offline (here a template change): arrives after the reconnect.
  const patched = await hub.request('PATCH', `/api/alts/${alt.id as string}`, { token: admin, body: { stop: { type: 'command', value: 'stop', graceS: 60 } } })
  t.equal(patched.status, 200, JSON.stringify(patched.body))
  agent = await connectRaw(hub, node.agentToken)
  const stranger = '11111111-1111-4111-8111-111111111111'
  await hello(agent, [{ serverId, configRevision: 2 }, { serverId: stranger, configRevision: 4 }], ['provision'])
  t.match(await agent.next('server.removed'), { serverId: stranger }, 'a hello entry not on the node is removed')
  t.match(await agent.next('server.config'), { serverId, revision: 3, stop: { graceS: 60 } }, 'the template change made offline')
  agent.send({ type: 'server.config.ack', serverId, revision: 3 })
  await agent.close()

  // Running the current revision: nothing is resent, and the revision counts as acknowledged.
  await hub.app.db.prisma.server.update({ where: { id: serverId }, data: { configAckedRevision: null } })
  agent = await connectRaw(hub, node.agentToken)
  await hello(agent, [{ serverId, configRevision: 3 }], ['provision'])
  // Recorded right after welcome, asynchronously: wait for it (bounded).
  const until = Date.now() + 5_000
  while ((await revision()).configAckedRevision !== 3 && Date.now() < until) await new Promise(resolve => setTimeout(resolve, 20))
  t.same(await revision(), { configRevision: 3, configAckedRevision: 3 })

  // Deleted: server.removed.
  t.equal((await hub.request('DELETE', `/api/servers/${serverId}`, { token: admin })).status, 204)
  t.match(await agent.next('server.removed'), { serverId })
  t.notOk(agent.inbox.some(m => m.type === 'server.config'), 'no configuration was resent for the current revision')
  await agent.close()
})

t.test('a v1 agent gets no provision frames, and its server.config.ack is a BAD_FRAME', async t => {
  const hub = await startTestHub(t)
  const admin = await hub.adminToken()
  const node = await addNode(hub, 'v1', 1)
  const agent = await connectRaw(hub, node.agentToken)
  const welcome = await hello(agent, [{ serverId: node.servers[0] as string }])
  t.notOk('features' in welcome, 'no features without hello.features')
  t.equal((await hub.request('PATCH', `/api/servers/${node.servers[0] as string}`, { token: admin, body: { name: 'renamed' } })).status, 200)
  agent.send({ type: 'server.config.ack', serverId: node.servers[0], revision: 2 })
  t.match(await agent.next('error'), { code: 'BAD_FRAME' })
  // A status round trip after the change's notification had every chance to arrive.
  agent.send({ type: 'status', serverId: node.servers[0], status: 'STARTING', seq: 1, at: new Date().toISOString() })
  await agent.next('status.ack')
  t.notOk(agent.inbox.some(m => m.type === 'server.config' || m.type === 'server.removed'), 'nothing of provision')

  const agent2 = await connectRaw(hub, node.agentToken)
  const w2 = await hello(agent2, [{ serverId: node.servers[0] as string }], [])
  t.same(w2.features, [], 'features [] when hello asked for none')
  await agent2.close()
  await agent.close()
})
