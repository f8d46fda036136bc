// Subscriptions under RBAC, end to end: snapshots, live events from a real agent, nothing about
// foreign servers leaking, malformed frames and limits.
import t from 'tap'
import { startTestHub } from '../../helpers/hub.ts'
import { addNode, addUser, agent, panel } from './fixtures.ts'

const UNKNOWN = '00000000-0000-4000-8000-00000000dead'

t.test('owner, servers.view and admin; foreign and unknown servers refused whole, nothing leaks', async t => {
  const hub = await startTestHub(t)
  const alice = await addUser(hub, 'alice')
  const bob = await addUser(hub, 'bob')
  const viewer = await addUser(hub, 'viewer', ['servers.view'])
  const node = await addNode(hub, 'n1', [alice.id, bob.id, alice.id])
  const [a1, b1, a2] = node.servers as [string, string, string]
  const ag = await agent(hub, node)

  const pa = panel(hub, alice.token)
  await pa.connect()
  const snap = await pa.subscribe({ servers: [a1, a2] })
  t.equal(snap.type, 'subscribed')
  t.same(snap.servers.map((s: any) => s.serverId).sort(), [a1, a2].sort())
  t.match(snap.servers[0], { name: String, nodeId: node.nodeId, status: 'STOPPED', updatedAt: String })
  t.match(snap.lastEventId, /^\d+$/)

  t.match(await pa.subscribe({ servers: [a1, b1] }), { type: 'error', code: 'FORBIDDEN' }, 'one foreign server refuses the whole frame')
  t.match(await pa.subscribe({ servers: [UNKNOWN] }), { type: 'error', code: 'FORBIDDEN' }, 'unknown looks like foreign without servers.view')
  t.match(await pa.subscribe({ nodes: [node.nodeId] }), { type: 'error', code: 'FORBIDDEN' }, 'nodes need servers.view')

  const pv = panel(hub, viewer.token)
  await pv.connect()
  t.match(await pv.subscribe({ servers: [UNKNOWN] }), { type: 'error', code: 'NOT_FOUND' })
  t.match(await pv.subscribe({ nodes: [UNKNOWN] }), { type: 'error', code: 'NOT_FOUND' })
  const all = await pv.subscribe({ nodes: [node.nodeId] })
  t.equal(all.servers.length, 3, 'a node means all its servers')

  // Live: bob's server changes first, then alice's; alice sees only hers, the viewer sees both.
  await ag.status(b1, 'STARTING')
  await ag.status(a1, 'STARTING')
  // The agent's own node.presence may land at any point here (it is written after welcome).
  const status = (f: any) => f.type === 'event' && f.kind === 'server.status'
  const ev = await pa.next(status)
  t.match(ev, { kind: 'server.status', data: { serverId: a1, from: 'STOPPED', to: 'STARTING' } })
  t.match(await pv.next(f => status(f) && f.data.serverId === b1), { kind: 'server.status' })
  t.match(await pv.next(f => status(f) && f.data.serverId === a1), { eventId: ev.eventId })
  await pa.ping() // anything queued before the pong has arrived
  t.notOk(pa.drain().some(f => JSON.stringify(f).includes(b1)), "nothing about bob's server reached alice")

  // Unsubscribe stops events.
  pa.unsubscribe({ servers: [a1] })
  await pa.ping()
  await ag.status(a1, 'RUNNING')
  await ag.status(a2, 'STARTING')
  t.match(await pa.next(status), { data: { serverId: a2 } }, 'the next event is for the server still watched')

  // Node presence: to node subscribers and to watchers of its servers.
  ag.close()
  t.match(await pv.next(f => f.type === 'event' && f.kind === 'node.presence'), { data: { nodeId: node.nodeId, connected: false } })
  t.match(await pa.next(f => f.type === 'event' && f.kind === 'node.presence'), { data: { nodeId: node.nodeId, connected: false } })
  t.equal(pa.state.orderViolations + pv.state.orderViolations, 0)
  pa.close()
  pv.close()
})

t.test('malformed frames, limits, since garbage', async t => {
  const hub = await startTestHub(t, { panelBurst: 1_000, panelRatePerSecond: 1_000 })
  const alice = await addUser(hub, 'alice')
  const node = await addNode(hub, 'n1', [alice.id])
  const p = panel(hub, alice.token)
  await p.connect()
  const bad = async (frame: string | Buffer, reason: RegExp | string) => {
    p.sendRaw(frame)
    t.match(await p.next('error'), { code: 'BAD_FRAME', message: reason }, String(reason))
  }
  await bad('not json', 'invalid JSON')
  await bad('[]', 'frame must be a JSON object')
  await bad('{"type":"nope"}', 'unknown type "nope"')
  await bad('{"type":"subscribe","id":1,"servers":["x"]}', /\/servers\/0/)
  await bad('{"type":"subscribe","id":1,"extra":true}', '/extra: unexpected property')
  await bad('{"type":"ping","id":1,"__proto__":{}}', 'forbidden key "__proto__"')
  await bad(Buffer.from([1, 2, 3]), 'binary frames are not accepted')
  await bad(JSON.stringify({ type: 'subscribe', id: 1, since: 'yesterday', servers: node.servers }), /\/since/)
  await bad(JSON.stringify({ type: 'subscribe', id: 1, since: '-1', servers: node.servers }), /\/since/)
  await bad(JSON.stringify({ type: 'subscribe', id: 1, since: '99999999999999999999', servers: node.servers }), /\/since/)
  const huge = Array.from({ length: 1_001 }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`)
  await bad(JSON.stringify({ type: 'subscribe', id: 1, servers: huge }), /\/servers/)
  await bad(JSON.stringify({ type: 'subscribe', id: 1, servers: huge.slice(0, 600), nodes: huge.slice(600, 1_200) }), 'at most 1000 ids per frame')
  t.match(await p.subscribe({ servers: node.servers }), { type: 'subscribed' }, 'the connection still works')
})

t.test('a panel resuming with a since beyond the event log (a restored database) gets resync, never an error', async t => {
  const hub = await startTestHub(t)
  const alice = await addUser(hub, 'alice')
  const node = await addNode(hub, 'n1', [alice.id])
  const p = panel(hub, alice.token)
  await p.connect()
  const subscribed = await p.subscribe({ servers: node.servers, since: '1000000' })
  t.match(subscribed, { type: 'subscribed', servers: [{ serverId: node.servers[0] }] }, 'subscribed with a fresh snapshot')
  t.match(await p.next('resync'), { type: 'resync', reason: /beyond the newest event/ })
  t.match(await p.subscribe({ servers: node.servers }), { type: 'subscribed' }, 'the connection still works')
})

t.test('too many bad frames close 4400; flooding closes 4429; a frame over the limit closes 1009', async t => {
  const hub = await startTestHub(t, { panelBurst: 1_000, panelRatePerSecond: 1_000 })
  const alice = await addUser(hub, 'alice')
  const p = panel(hub, alice.token)
  await p.connect()
  for (let i = 0; i < 21; i++) p.sendRaw('nope')
  t.equal((await p.closed()).code, 4400)

  const slow = await startTestHub(t, { panelBurst: 5, panelRatePerSecond: 1 })
  const bob = await addUser(slow, 'bob')
  const q = panel(slow, bob.token)
  await q.connect()
  for (let i = 0; i < 5; i++) q.sendRaw('{"type":"ping","id":1}')
  q.sendRaw('{"type":"ping","id":2}')
  t.match(await q.next('error'), { code: 'RATE_LIMITED' }, 'past the burst: RATE_LIMITED')
  for (let i = 0; i < 101; i++) q.sendRaw('{"type":"ping","id":3}')
  t.equal((await q.closed()).code, 4429)

  const r = panel(hub, alice.token)
  await r.connect()
  r.sendRaw('x'.repeat(70_000))
  t.equal((await r.closed()).code, 1009)
})

t.test('at most 10,000 servers per connection', async t => {
  const hub = await startTestHub(t)
  const viewer = await addUser(hub, 'viewer', ['servers.view'])
  const res = await hub.request('POST', '/api/nodes', { token: await hub.adminToken(), body: { name: 'big' } })
  const alt = await hub.app.db.prisma.alt.findFirstOrThrow()
  await hub.app.db.pool.query(
    'INSERT INTO servers (name, port, node_id, alt_id, owner_id, updated_at) SELECT \'s\' || i, i, $1, $2, $3, now() FROM generate_series(1, 10001) i',
    [res.body.node.id, alt.id, viewer.id])
  const p = panel(hub, viewer.token)
  await p.connect()
  t.match(await p.subscribe({ nodes: [res.body.node.id] }), { type: 'error', code: 'BAD_FRAME', message: 'at most 10000 servers per connection' })
})
