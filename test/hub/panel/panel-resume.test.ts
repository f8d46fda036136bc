// Resume with `since` across reconnects (no gap, no duplicate), resync when `since` is older than
// the retention, a second hub instance on the same database, and a panel that stops reading.
import t from 'tap'
import { startTestHub } from '../../helpers/hub.ts'
import { addNode, addUser, agent, appendMany, panel, secondHub } from './fixtures.ts'

t.test('resume with since: every missed event once, in order, then live ones', async t => {
  const hub = await startTestHub(t)
  const alice = await addUser(hub, 'alice')
  const node = await addNode(hub, 'n1', [alice.id, alice.id])
  const other = await addNode(hub, 'n2', [alice.id])
  const seen: string[] = []
  const p = panel(hub, alice.token, { onEvent: e => seen.push(e.eventId) })
  await p.connect()
  await p.subscribe({ servers: node.servers })
  await appendMany(hub.app, node.servers, node.nodeId, 10)
  await p.next(f => f.type === 'event' && f.data.n === 9)
  p.terminate()
  // Missed while away: 300 events for the watched servers, interleaved with others'.
  await appendMany(hub.app, [...node.servers, ...other.servers], node.nodeId, 450)
  const resumed = await p.resume()
  t.equal(resumed.type, 'subscribed')
  await appendMany(hub.app, node.servers, node.nodeId, 20)
  await p.next(f => f.type === 'event' && f.data.n === 19 && BigInt(f.eventId) > BigInt(resumed.lastEventId))
  const { rows } = await hub.app.db.pool.query<{ id: string }>('SELECT id::text FROM events WHERE server_id = ANY($1::uuid[]) ORDER BY events.id', [node.servers])
  t.same(seen, rows.map(r => r.id), 'exactly the events of the watched servers, each once, in order')
  t.equal(p.state.orderViolations, 0)
  p.close()
})

t.test('since older than the oldest kept event: snapshot, then resync', async t => {
  const hub = await startTestHub(t)
  const alice = await addUser(hub, 'alice')
  const node = await addNode(hub, 'n1', [alice.id])
  await appendMany(hub.app, node.servers, node.nodeId, 20)
  // The feed must have read the events before they go, or it sees a gap and every panel gets
  // `resync {reason: "events were lost upstream"}` (under load it can lag that far behind).
  const deadline = Date.now() + 10_000
  while (BigInt(hub.app.events.lastId()) < 20n && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 10))
  await hub.app.db.pool.query('DELETE FROM events WHERE id <= 10')
  const p = panel(hub, alice.token)
  await p.connect()
  t.match(await p.subscribe({ servers: node.servers, since: '5' }), { type: 'subscribed', lastEventId: '20' })
  t.match(await p.next(), { type: 'resync', reason: /older than the oldest/ }, 'resync right after the snapshot')
  const q = panel(hub, alice.token)
  await q.connect()
  await q.subscribe({ servers: node.servers, since: '10' })
  const first = await q.next('event')
  t.equal(first.eventId, '11', 'since = oldest - 1 still replays')
})

t.test('a second hub on the same database gets the events and the revocations', async t => {
  const hub = await startTestHub(t)
  const alice = await addUser(hub, 'alice')
  const node = await addNode(hub, 'n1', [alice.id])
  const b = await secondHub(t, hub.databaseUrl)
  const onB = panel(b, alice.token)
  await onB.connect()
  await onB.subscribe({ servers: node.servers })
  const ag = await agent(hub, node) // the agent is on hub A
  await ag.status(node.servers[0] as string, 'STARTING')
  t.match(await onB.next(f => f.type === 'event' && f.kind === 'server.status'), { data: { to: 'STARTING' } }, 'an agent status on hub A reaches a panel on hub B')
  t.equal((await hub.request('POST', '/api/auth/logout', { token: alice.token })).status, 204)
  t.same(await onB.closed(), { code: 4401, reason: 'session revoked' }, 'logout on hub A closes the socket on hub B')
  ag.close()
})

t.test('a panel that stops reading: the hub buffer stays bounded, then resync and the latest state', async t => {
  const highWater = 64 * 1024
  const hub = await startTestHub(t, { panelHighWaterBytes: highWater, panelMaxStallMs: 60_000 })
  const alice = await addUser(hub, 'alice')
  const node = await addNode(hub, 'n1', [alice.id, alice.id, alice.id])
  const q = panel(hub, alice.token)
  await q.connect()
  await q.subscribe({ servers: node.servers }) // a healthy reader next to the slow one
  const others = new Set(hub.app.panels.sessions())
  const p = panel(hub, alice.token, { keepFrames: false })
  await p.connect()
  const session = hub.app.panels.sessions().find(s => !others.has(s))!
  await p.subscribe({ servers: node.servers })
  p.pauseReading()
  let maxBuffered = 0
  const sample = setInterval(() => { for (const s of hub.app.panels.sessions()) maxBuffered = Math.max(maxBuffered, s.stats().buffered) }, 5)
  // ~40 MB of events: far more than the kernel's socket buffers hold.
  await appendMany(hub.app, node.servers, node.nodeId, 20_000, 2_000, 1_000)
  await q.next(f => f.type === 'event' && f.data.n === 19_999, 30_000)
  clearInterval(sample)
  t.same(hub.app.panels.sessions().filter(s => s.stats().overflowed), [session], 'the paused panel, and only it, overflowed')
  t.ok(session.stats().coalesced <= 3, `coalesced to at most one event per server (${session.stats().coalesced})`)
  // Bound: the high-water mark plus one chunk of 64 frames (~2 KB each) plus control frames.
  t.ok(maxBuffered <= highWater + 64 * 2_300, `buffered at most ${maxBuffered} bytes`)
  p.resumeReading()
  // After the drain: resync, then the latest event of each server, ids still increasing.
  const deadline = Date.now() + 20_000
  while (p.state.resyncs === 0 && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 20))
  t.equal(p.state.resyncs, 1, 'one resync after the drain')
  await appendMany(hub.app, node.servers, node.nodeId, 3, 0, 3)
  const until = Date.now() + 10_000
  while (BigInt(p.state.cursor) < BigInt(q.state.cursor) && Date.now() < until) await new Promise(resolve => setTimeout(resolve, 20))
  t.equal(p.state.cursor, q.state.cursor, 'the slow panel caught up with the latest event')
  t.equal(p.state.orderViolations, 0, 'ids strictly increasing throughout')
  t.ok(p.state.events < 20_003, `events were coalesced (${p.state.events} received)`)
  p.close()
  q.close()
})
