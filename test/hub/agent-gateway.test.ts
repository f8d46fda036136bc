// End to end: real hub, real PostgreSQL, raw WebSocket agents.
import { once } from 'node:events'
import t from 'tap'
import WebSocket from 'ws'
import { startTestHub, type TestHub } from '../helpers/hub.ts'
import { connectRaw } from '../helpers/raw-agent.ts'

async function addNode (hub: TestHub, name: string, servers = 2) {
  const token = await hub.adminToken()
  const res = await hub.request('POST', '/api/nodes', { token, body: { name } })
  const prisma = hub.app.db.prisma
  const alt = await prisma.alt.findFirstOrThrow()
  const owner = await prisma.user.findFirstOrThrow()
  const ids: string[] = []
  for (let i = 0; i < servers; i++) {
    ids.push((await prisma.server.create({ data: { name: `${name}-${i}`, port: 27000 + i, nodeId: res.body.node.id, altId: alt.id, ownerId: owner.id } })).id)
  }
  return { nodeId: res.body.node.id as string, agentToken: res.body.agentToken as string, servers: ids }
}

const connect = connectRaw

async function upgradeStatus (hub: TestHub, headers: Record<string, string>): Promise<number> {
  const ws = new WebSocket(hub.url.replace('http', 'ws') + '/agent/v1', { headers })
  ws.on('error', () => {}) // aborting the refused handshake reports an error; expected
  const [, res] = await once(ws, 'unexpected-response') as [unknown, { statusCode: number }]
  ws.terminate()
  return res.statusCode
}

t.test('bad tokens get HTTP 401 before any upgrade', async t => {
  const hub = await startTestHub(t)
  const { nodeId, agentToken } = await addNode(hub, 'n1')
  const [h, p] = agentToken.split('.')
  const payload = JSON.parse(Buffer.from(p as string, 'base64url').toString())
  const unsigned = (claims: object) => `${Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.`
  const cases: Record<string, Record<string, string>> = {
    missing: {},
    garbage: { authorization: 'Bearer garbage' },
    'alg none': { authorization: `Bearer ${unsigned(payload)}` },
    'tampered payload': { authorization: `Bearer ${h}.${Buffer.from(JSON.stringify({ ...payload, sub: '00000000-0000-4000-8000-000000000000' })).toString('base64url')}.${agentToken.split('.')[2]}` },
    'a session token instead': { authorization: `Bearer ${await hub.adminToken()}` }
  }
  for (const [name, headers] of Object.entries(cases)) t.equal(await upgradeStatus(hub, headers), 401, name)

  const rotated = await hub.request('POST', `/api/nodes/${nodeId}/token`, { token: await hub.adminToken() })
  t.equal(rotated.status, 201)
  t.equal(await upgradeStatus(hub, { authorization: `Bearer ${agentToken}` }), 401, 'a rotated token')
  const agent = await connect(hub, rotated.body.agentToken)
  agent.send({ type: 'hello', protocol: 1, agentVersion: 't', servers: [] })
  t.equal((await agent.next('welcome')).nodeId, nodeId, 'the new token works')
  agent.ws.close()
})

t.test('hello, welcome, status ingest with ack after commit, replay and rules', async t => {
  const hub = await startTestHub(t)
  const { nodeId, agentToken, servers: [s1, s2] } = await addNode(hub, 'n1')
  const other = await addNode(hub, 'n2', 1)
  const agent = await connect(hub, agentToken)
  agent.send({ type: 'hello', protocol: 1, agentVersion: '1.0', servers: [{ serverId: s1, status: 'RUNNING', seq: 3 }, { serverId: s2, status: 'STOPPED', seq: 0 }] })
  const welcome = await agent.next('welcome')
  t.same(welcome, { type: 'welcome', protocol: 1, nodeId, heartbeatMs: 10_000, lastSeq: { [s1 as string]: 3, [s2 as string]: 0 } })
  const prisma = hub.app.db.prisma
  t.equal((await prisma.server.findUniqueOrThrow({ where: { id: s1 } })).status, 'RUNNING', 'hello snapshot persisted')
  t.match(await prisma.serverStatusTransition.findMany({ where: { serverId: s1 } }), [{ from: 'STOPPED', to: 'RUNNING', reason: 'hello' }])
  t.equal((await prisma.node.findUniqueOrThrow({ where: { id: nodeId } })).connected, true)

  const at = new Date().toISOString()
  agent.send({ type: 'status', serverId: s1, status: 'STOPPING', seq: 4, at })
  t.same(await agent.next('status.ack'), { type: 'status.ack', serverId: s1, seq: 4 })
  const row = await prisma.server.findUniqueOrThrow({ where: { id: s1 } })
  t.equal(row.status, 'STOPPING')
  t.equal(row.seq, 4n)

  agent.send({ type: 'status', serverId: s1, status: 'STOPPING', seq: 4, at })
  t.same(await agent.next('status.ack'), { type: 'status.ack', serverId: s1, seq: 4 }, 'a replay is acked again')
  t.equal(await prisma.serverStatusTransition.count({ where: { serverId: s1 } }), 2, 'and writes nothing')

  agent.send({ type: 'status', serverId: s1, status: 'INSTALLING', seq: 5, at })
  t.match(await agent.next('error'), { code: 'ILLEGAL_TRANSITION', ref: `${s1}:5` })
  agent.send({ type: 'status', serverId: other.servers[0], status: 'STARTING', seq: 1, at })
  t.match(await agent.next('error'), { code: 'NOT_YOUR_SERVER', ref: `${other.servers[0]}:1` })
  agent.send({ type: 'status', serverId: '00000000-0000-4000-8000-000000000000', status: 'STARTING', seq: 1, at })
  t.match(await agent.next('error'), { code: 'NOT_YOUR_SERVER' })
  agent.send({ type: 'hello', protocol: 1, agentVersion: '1.0', servers: [] })
  t.match(await agent.next('error'), { code: 'ALREADY_HELLO' })

  // Many reports in flight at once: all acked, in order, all persisted.
  const seqs = [6, 7, 8, 9]
  const statuses = ['STOPPED', 'STARTING', 'RUNNING', 'STOPPING']
  seqs.forEach((seq, i) => agent.send({ type: 'status', serverId: s1, status: statuses[i], seq, at }))
  for (const seq of seqs) t.same(await agent.next('status.ack'), { type: 'status.ack', serverId: s1, seq })
  t.equal((await prisma.server.findUniqueOrThrow({ where: { id: s1 } })).status, 'STOPPING')
  t.equal(await prisma.serverStatusTransition.count({ where: { serverId: s1 } }), 6)

  // The batch's values travel inlined in the statement sent with COMMIT: hostile text is data.
  const reason = "it's a \\'; DROP TABLE servers; -- $$ \" é 🎮 \\u0041"
  const when = '2026-12-03T10:11:12.345Z'
  agent.send({ type: 'status', serverId: s1, status: 'STOPPED', seq: 10, at: when, reason })
  t.same(await agent.next('status.ack'), { type: 'status.ack', serverId: s1, seq: 10 })
  t.match(await prisma.serverStatusTransition.findFirst({ where: { serverId: s1, seq: 10 } }), { from: 'STOPPING', to: 'STOPPED', reason, at: new Date(when) }, 'reason and instant stored as sent')
  agent.ws.close()
})

t.test('bad frames never crash the hub nor write a row, and a fresh agent still works', async t => {
  const hub = await startTestHub(t, { maxFrameBytes: 4096 })
  const { agentToken, servers: [s1] } = await addNode(hub, 'n1', 1)
  const agent = await connect(hub, agentToken)
  agent.send({ type: 'status', serverId: s1, status: 'STARTING', seq: 1, at: new Date().toISOString() })
  t.match(await agent.next('error'), { code: 'NOT_READY' }, 'status before hello')
  agent.send({ type: 'hello', protocol: 1, agentVersion: '1', servers: [] })
  await agent.next('welcome')
  const frames = [
    'not json', '{"type":"status"', '[]', '42', '{"type":"nope"}', '{"__proto__":{"x":1},"type":"hello"}',
    '['.repeat(3000),
    JSON.stringify({ type: 'status', serverId: s1, status: 'STARTING', seq: 0, at: new Date().toISOString() }),
    JSON.stringify({ type: 'status', serverId: s1, status: 'STARTING', seq: -1, at: new Date().toISOString() }),
    JSON.stringify({ type: 'status', serverId: s1, status: 'STARTING', seq: 1.5, at: new Date().toISOString() }),
    JSON.stringify({ type: 'status', serverId: s1, status: 'STARTING', seq: 2 ** 60, at: new Date().toISOString() }),
    JSON.stringify({ type: 'status', serverId: s1, status: 'UNKNOWN', seq: 1, at: new Date().toISOString() }),
    JSON.stringify({ type: 'status', serverId: 'x', status: 'STARTING', seq: 1, at: new Date().toISOString() }),
    // Protocol 1.1: canonical ids and agent instants are refused at the edge, never stored.
    JSON.stringify({ type: 'status', serverId: s1?.toUpperCase(), status: 'STARTING', seq: 1, at: new Date().toISOString() }),
    JSON.stringify({ type: 'status', serverId: s1, status: 'STARTING', seq: 1, at: '2016-12-31T23:59:60Z' }),
    JSON.stringify({ type: 'status', serverId: s1, status: 'STARTING', seq: 1, at: '1999-12-31T23:59:59Z' }),
    // 1.1 frames of features this hello did not negotiate.
    JSON.stringify({ type: 'console', serverId: s1, lines: ['x'] }),
    JSON.stringify({ type: 'stats', serverId: s1, at: new Date().toISOString(), cpuPercent: 1, memoryBytes: 1, uptimeMs: 1 }),
    JSON.stringify({ type: 'server.config.ack', serverId: s1, revision: 1 })
  ]
  for (const frame of frames) {
    agent.send(frame)
    t.match(await agent.next('error'), { code: 'BAD_FRAME' }, frame.slice(0, 40))
  }
  agent.ws.send(Buffer.from([1, 2, 3]), { binary: true })
  t.match(await agent.next('error'), { code: 'BAD_FRAME', message: /binary/ })
  t.equal(await hub.app.db.prisma.serverStatusTransition.count(), 0, 'no row written')

  agent.send('x'.repeat(5000))
  t.same(await agent.closed, [1009, ''], 'an oversize frame closes with 1009')

  const fresh = await connect(hub, agentToken)
  fresh.send({ type: 'hello', protocol: 1, agentVersion: '1', servers: [] })
  await fresh.next('welcome')
  fresh.send({ type: 'status', serverId: s1, status: 'STARTING', seq: 1, at: new Date().toISOString() })
  t.same(await fresh.next('status.ack'), { type: 'status.ack', serverId: s1, seq: 1 })
  fresh.ws.close()
})

t.test('too many bad frames close with 4400; flooding gets RATE_LIMITED then 4429; a wrong protocol 4406', async t => {
  const hub = await startTestHub(t, { agentRatePerSecond: 1, agentBurst: 25 })
  const { agentToken } = await addNode(hub, 'n1', 1)
  const noisy = await connect(hub, agentToken)
  for (let i = 0; i < 30; i++) noisy.send('garbage')
  t.equal((await noisy.closed)[0], 4400, 'the 21st bad frame closes the connection')

  const flood = await connect(hub, agentToken)
  for (let i = 0; i < 1_100; i++) flood.send({ type: 'hello', protocol: 1, agentVersion: '1', servers: [] })
  t.match(await flood.next(m => m.code === 'RATE_LIMITED'), { type: 'error', code: 'RATE_LIMITED' })
  t.equal((await flood.closed)[0], 4429)

  const old = await connect(hub, agentToken)
  old.send({ type: 'hello', protocol: 2, agentVersion: '1', servers: [] })
  t.equal((await old.closed)[0], 4406)
})

t.test('one connection per node: the older one closes with 4409; presence and UNKNOWN after the grace', async t => {
  const hub = await startTestHub(t, { heartbeatMs: 200 })
  const { nodeId, agentToken, servers: [s1] } = await addNode(hub, 'n1', 1)
  const first = await connect(hub, agentToken)
  first.send({ type: 'hello', protocol: 1, agentVersion: '1', servers: [{ serverId: s1, status: 'RUNNING', seq: 1 }] })
  await first.next('welcome')
  const second = await connect(hub, agentToken)
  t.equal((await first.closed)[0], 4409)
  second.send({ type: 'hello', protocol: 1, agentVersion: '1', servers: [{ serverId: s1, status: 'RUNNING', seq: 1 }] })
  await second.next('welcome')
  t.equal(hub.app.agents.size(), 1)

  const lost = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('not UNKNOWN within 3 s')), 3_000)
    const off = hub.app.bus.subscribe(events => {
      if (events.some(e => e.kind === 'server.status' && e.data.serverId === s1 && e.data.to === 'UNKNOWN')) { clearTimeout(timer); off(); resolve() }
    })
  })
  const presence = new Promise(resolve => hub.app.bus.subscribe(events => { if (events.some(e => e.kind === 'node.presence' && !e.data.connected)) resolve(true) }))
  second.ws.terminate()
  t.equal(await presence, true, 'node.presence disconnected goes out at once')
  await lost
  t.equal((await hub.app.db.prisma.node.findUniqueOrThrow({ where: { id: nodeId } })).connected, false)
  t.match(await hub.app.db.prisma.serverStatusTransition.findFirst({ where: { serverId: s1, to: 'UNKNOWN' } }), { from: 'RUNNING', seq: null, reason: 'node lost' })
})
