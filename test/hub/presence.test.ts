// Presence across hubs sharing one database: one live connection per node wherever it is held,
// late disconnects of replaced connections change nothing, leases of a dead hub go stale and its
// nodes are marked lost, but only after a grace that lets agents reconnect first.
import { once } from 'node:events'
import t from 'tap'
import WebSocket from 'ws'
import type { HubEvent } from '../../src/hub/bus.ts'
import { startTestHub, type TestHub } from '../helpers/hub.ts'

async function addNode (hub: TestHub, name: string) {
  const res = await hub.request('POST', '/api/nodes', { token: await hub.adminToken(), body: { name } })
  const prisma = hub.app.db.prisma
  const alt = await prisma.alt.findFirstOrThrow()
  const owner = await prisma.user.findFirstOrThrow()
  const server = await prisma.server.create({ data: { name: `${name}-0`, port: 27000, nodeId: res.body.node.id, altId: alt.id, ownerId: owner.id, status: 'RUNNING', seq: 1 } })
  return { nodeId: res.body.node.id as string, agentToken: res.body.agentToken as string, serverId: server.id }
}

/** An agent that has received `welcome`; `closed` resolves with the close code. */
async function agent (hub: TestHub, token: string, serverId: string) {
  const ws = new WebSocket(hub.url.replace('http', 'ws') + '/agent/v1', { headers: { authorization: `Bearer ${token}` } })
  const closed = once(ws, 'close').then(([code]) => code as number)
  await once(ws, 'open')
  const welcome = new Promise(resolve => ws.on('message', data => { if (JSON.parse(String(data)).type === 'welcome') resolve(true) }))
  ws.send(JSON.stringify({ type: 'hello', protocol: 1, agentVersion: 't', servers: [{ serverId, status: 'RUNNING', seq: 1 }] }))
  await welcome
  return { ws, closed }
}

/** Resolves with the first event on `hub`'s bus matching `match`, or rejects after 5 s. */
async function nextEvent (hub: TestHub, match: (e: HubEvent) => boolean, what: string): Promise<HubEvent> {
  return await new Promise((resolve, reject) => {
    const timer = setTimeout(() => { off(); reject(new Error(`no ${what} within 5 s`)) }, 5_000)
    const off = hub.app.bus.subscribe(events => {
      const hit = events.find(match)
      if (hit !== undefined) { clearTimeout(timer); off(); resolve(hit) }
    })
  })
}

const node = async (hub: TestHub, id: string) => await hub.app.db.prisma.node.findUniqueOrThrow({ where: { id } })

t.test('a node that connects to another hub is closed with 4409 on the first; presence stays right', async t => {
  const a = await startTestHub(t, { heartbeatMs: 60_000 })
  const b = await startTestHub(t, { heartbeatMs: 60_000 }, { databaseUrl: a.databaseUrl })
  const { nodeId, agentToken, serverId } = await addNode(a, 'n1')

  const confirmedOnA = nextEvent(a, e => e.kind === 'node.presence' && e.nodeId === nodeId, 'connect on a')
  const onA = await agent(a, agentToken, serverId)
  await confirmedOnA
  const onB = await agent(b, agentToken, serverId)
  t.equal(await onA.closed, 4409, 'the older connection, on the other hub, is replaced')
  t.equal(a.app.agents.size(), 0)
  t.equal(b.app.agents.size(), 1)
  t.equal(onB.ws.readyState, WebSocket.OPEN, 'the newer one stays')

  // a's late disconnect of the replaced connection must not mark the node gone.
  const row = await node(a, nodeId)
  t.equal(row.connected, true)
  t.equal(row.connectionId, b.app.agents.held()[0]?.connectionId, 'the live connection is the one on b')

  const gone = nextEvent(a, e => e.kind === 'node.presence' && e.nodeId === nodeId && e.data.connected === false, 'disconnect seen on a')
  onB.ws.close()
  await gone
  t.equal((await node(a, nodeId)).connected, false, 'its own disconnect does')
})

t.test('a dead hub: its nodes are marked lost after the grace, unless their agents came back', async t => {
  const seed = await startTestHub(t, { heartbeatMs: 60_000 })
  const back = await addNode(seed, 'back')
  const gone = await addNode(seed, 'gone')
  // As a SIGKILLed hub leaves them: connected, with leases that stopped being renewed long ago.
  await seed.app.db.pool.query("UPDATE nodes SET connected = true, connection_id = gen_random_uuid(), last_seen_at = now() - interval '1 hour'")

  const hub = await startTestHub(t, { heartbeatMs: 500 }, { databaseUrl: seed.databaseUrl })
  const started = Date.now()
  const lost = nextEvent(hub, e => e.kind === 'server.status' && e.serverId === gone.serverId && e.data.to === 'UNKNOWN', 'gone node lost')
  const returned = await agent(hub, back.agentToken, back.serverId)
  await lost
  t.ok(Date.now() - started >= 900, `nothing was marked lost before the grace (${Date.now() - started} ms)`)
  t.match(await node(hub, gone.nodeId), { connected: false, connectionId: null })
  t.equal((await hub.app.db.prisma.server.findUniqueOrThrow({ where: { id: back.serverId } })).status, 'RUNNING', 'the agent that came back keeps its status')
  t.equal((await node(hub, back.nodeId)).connected, true)
  returned.ws.close()
})

t.test('the holding hub renews leases, so a live node is never swept', async t => {
  const hub = await startTestHub(t, { heartbeatMs: 200 })
  const { nodeId, agentToken, serverId } = await addNode(hub, 'n1')
  const control = await addNode(hub, 'control')
  const connected = nextEvent(hub, e => e.kind === 'node.presence' && e.nodeId === nodeId, 'connect')
  const live = await agent(hub, agentToken, serverId)
  await connected // the connect is written after welcome, not before
  const before = (await node(hub, nodeId)).lastSeenAt as Date
  // The control node was seen long ago and never connects: once it is swept, sweeps have run
  // after the grace, so the live node has had its chance to be swept too.
  await hub.app.db.pool.query("UPDATE nodes SET last_seen_at = now() - interval '1 hour' WHERE id = $1", [control.nodeId])
  await nextEvent(hub, e => e.kind === 'server.status' && e.serverId === control.serverId && e.data.to === 'UNKNOWN', 'control node lost')
  // Renewal runs every heartbeat (200 ms): poll the row, for at most 5 s.
  const deadline = Date.now() + 5_000
  let after = await node(hub, nodeId)
  while ((after.lastSeenAt as Date).getTime() <= before.getTime() && Date.now() < deadline) {
    await new Promise(resolve => setTimeout(resolve, 50))
    after = await node(hub, nodeId)
  }
  t.ok((after.lastSeenAt as Date).getTime() > before.getTime(), 'the lease was renewed')
  t.equal(after.connected, true)
  t.equal((await hub.app.db.prisma.server.findUniqueOrThrow({ where: { id: serverId } })).status, 'RUNNING')
  live.ws.close()
})
