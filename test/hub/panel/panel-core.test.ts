// The panel core without sockets or a database: a fake transport with a settable buffered
// amount, a fake store whose reads the test releases, an injected clock and timers.
import t from 'tap'
import { createPanelRegistry } from '../../../src/hub/panel/panel-registry.ts'
import type { PanelLimits, PanelStore, Snapshot } from '../../../src/hub/panel/types.ts'
import type { HubEvent } from '../../../src/hub/bus.ts'
import { createFakeClock } from '../../helpers/fake-clock.ts'

const S1 = '00000000-0000-4000-8000-000000000001'
const S2 = '00000000-0000-4000-8000-000000000002'
const N1 = '00000000-0000-4000-8000-0000000000a1'
const USER = '00000000-0000-4000-8000-0000000000f1'
const LIMITS: PanelLimits = { heartbeatMs: 1_000, maxFrameBytes: 65_536, ratePerSecond: 100, burst: 100, maxBadFrames: 3, maxLimitedFrames: 5, highWaterBytes: 1_000, maxStallMs: 5_000, drainCheckMs: 50, maxPendingEvents: 100, replayBatch: 2, maxBufferedBytes: 1_000_000, ephemeralBytes: 250 }

const ev = (id: number, serverId: string | null = S1, kind = 'server.status'): HubEvent =>
  ({ id: String(id), kind: kind as HubEvent['kind'], serverId, nodeId: N1, data: { n: id }, at: new Date(0) })

function harness (opts: { log?: HubEvent[], snapshot?: () => Promise<Snapshot>, limits?: Partial<PanelLimits> } = {}) {
  const clock = createFakeClock()
  const frames: any[] = []
  const closes: Array<[number, string]> = []
  let buffered = 0
  let grow = false // a reader that never reads: every frame sent stays buffered
  const log = opts.log ?? []
  const store: PanelStore = {
    snapshot: opts.snapshot ?? (async () => ({ servers: [{ serverId: S1, name: 's1', nodeId: N1, ownerId: USER, status: 'RUNNING', updatedAt: new Date(0) }], nodes: [], last: '0', oldest: '0' })),
    replay: async (after, upTo, serverIds, _n, _p, limit) => log.filter(e => BigInt(e.id) > BigInt(after) && BigInt(e.id) <= BigInt(upTo) && serverIds.includes(e.serverId as string)).slice(0, limit),
    serverAccess: async () => new Map(),
    userAccess: async () => ({ role: 'USER', permissions: [] }),
    activeSessions: async () => new Set()
  }
  const registry = createPanelRegistry({
    store,
    limits: { ...LIMITS, ...opts.limits },
    now: clock.now,
    setTimer: clock.setTimer,
    log: { warn () {} }
  })
  const record = (f: string | Buffer) => {
    frames.push(JSON.parse(String(f)))
    if (grow) buffered += Buffer.byteLength(f)
  }
  const session = registry.open({ sessionId: 'sess', expiresAt: new Date(10_000), principal: { userId: USER, role: 'USER', permissions: new Set() } }, {
    send: record,
    flush () {},
    close: (code, reason) => closes.push([code, reason]),
    ping () {},
    bufferedAmount: () => buffered
  })
  const tick = async () => { for (let i = 0; i < 5; i++) await new Promise(resolve => setImmediate(resolve)) }
  return { registry, session, frames, closes, advance: clock.advance, tick, timers: clock.timers, setBuffered: (n: number) => { buffered = n }, neverRead: () => { grow = true }, buffered: () => buffered, events: () => frames.filter(f => f.type === 'event').map(f => Number(f.eventId)) }
}

t.test('live events racing a subscribe with since: replay and held events merge without gap or duplicate', async t => {
  let release!: (s: Snapshot) => void
  const log = [1, 2, 3, 4, 5, 6].map(i => ev(i, i % 2 === 0 ? S1 : S2))
  const h = harness({ log, snapshot: async () => await new Promise(resolve => { release = resolve }) })
  h.session.onFrame(JSON.stringify({ type: 'subscribe', id: 1, servers: [S1], since: '1' }), false)
  await h.tick()
  // While the snapshot is read: events 5 and 6 were committed before it (<= L = 6), 7 after.
  h.registry.publish([ev(5, S2), ev(6), ev(7)])
  release({ servers: [{ serverId: S1, name: 's1', nodeId: N1, ownerId: USER, status: 'RUNNING', updatedAt: new Date(0) }], nodes: [], last: '6', oldest: '1' })
  await h.tick()
  h.registry.publish([ev(8), ev(9, S2)])
  t.same(h.frames.map(f => f.type), ['ready', 'subscribed', 'event', 'event', 'event', 'event', 'event'])
  t.same(h.events(), [2, 4, 6, 7, 8], 'replay 2, 4, 6 (paged by 2), then held 7, then live 8; nothing of S2')
})

t.test('a refused subscribe drops what was held for it', async t => {
  const h = harness({ snapshot: async () => ({ servers: [{ serverId: S1, name: 's1', nodeId: N1, ownerId: 'someone-else', status: 'RUNNING', updatedAt: new Date(0) }], nodes: [], last: '0', oldest: '0' }) })
  h.session.onFrame(JSON.stringify({ type: 'subscribe', id: 1, servers: [S1] }), false)
  h.registry.publish([ev(1)])
  await h.tick()
  h.registry.publish([ev(2)])
  t.match(h.frames, [{ type: 'ready' }, { type: 'error', id: 1, code: 'FORBIDDEN' }])
  t.same(h.events(), [])
})

t.test('slow consumer: coalesce past the high-water mark, resync when drained, close when stalled', async t => {
  const h = harness({ limits: { heartbeatMs: 60_000 } })
  h.session.onFrame(JSON.stringify({ type: 'subscribe', id: 1, servers: [S1] }), false)
  await h.tick()
  h.registry.publish([ev(1)])
  h.setBuffered(5_000)
  h.registry.publish([ev(2)]) // sent, then the buffer is seen over the mark
  h.registry.publish([ev(3), ev(4), ev(5, S1, 'action.updated')])
  t.same(h.events(), [1, 2])
  t.match(h.session.stats(), { overflowed: true, coalesced: 2 })
  h.advance(100)
  t.same(h.events(), [1, 2], 'still over the mark: nothing more')
  h.setBuffered(200)
  h.advance(50)
  t.same(h.frames.slice(-3).map(f => f.type), ['resync', 'event', 'event'])
  t.same(h.events(), [1, 2, 4, 5], 'the latest of each kind per server, in id order')

  h.setBuffered(5_000)
  h.registry.publish([ev(6)])
  h.advance(5_100)
  t.same(h.closes, [[1008, 'too slow: events could not be delivered']])
  t.equal(h.registry.size(), 0, 'detached from the index')
})

t.test('heartbeat loss, session expiry, bad frames, pings', async t => {
  const h = harness()
  h.session.onFrame('{"type":"ping","id":"a"}', false)
  t.match(h.frames.at(-1), { type: 'pong', id: 'a' })
  h.advance(2_999)
  t.same(h.closes, [], 'alive up to 2 intervals of silence')
  h.advance(1)
  t.same(h.closes, [[4408, 'heartbeat lost']])
  t.equal(h.timers.size, 0, 'no timer left behind')

  const e = harness()
  e.advance(1_000)
  e.session.onPong()
  e.advance(1_000)
  e.session.onPong()
  e.advance(1_000)
  e.session.onPong()
  e.advance(7_000)
  t.same(e.closes, [[4408, 'heartbeat lost']], 'silent after the last pong')

  const x = harness()
  for (let i = 0; i < 9; i++) { x.advance(900); x.session.onPong() }
  x.advance(1_899)
  t.same(x.closes, [])
  x.advance(1)
  t.same(x.closes, [[4401, 'session expired']], 'closed at expiresAt')

  const b = harness()
  for (let i = 0; i < 4; i++) b.session.onFrame('nope', false)
  t.same(b.closes, [[4400, 'too many bad frames']])
})

t.test('direct replies go through the bound: a panel that never reads and keeps asking is closed with 1008', async t => {
  // Snapshots of ~2 MB in production; here the bound is small and each `subscribed` is ~200 bytes.
  const h = harness({ limits: { maxBufferedBytes: 3_000, heartbeatMs: 60_000, ratePerSecond: 1_000, burst: 1_000 } })
  h.neverRead()
  for (let i = 0; i < 100 && h.closes.length === 0; i++) {
    h.session.onFrame(JSON.stringify({ type: 'subscribe', id: i, servers: [S1] }), false)
    h.session.onFrame(JSON.stringify({ type: 'ping', id: i }), false)
    await h.tick()
  }
  t.same(h.closes, [[1008, 'too slow: the peer does not read its frames']])
  t.ok(h.buffered() <= 3_000, `never more than the bound held (${h.buffered()} bytes)`)
  t.ok(h.frames.filter(f => f.type === 'subscribed').length > 3, 'several snapshots went out before the bound')
  t.equal(h.registry.size(), 0, 'detached from the index')
  t.equal(h.timers.size, 0, 'no timer left behind')
})

t.test('ephemeral frames: sent under their own bound, dropped and counted per key beyond it or while events coalesce; never resync, never close', async t => {
  const h = harness({ limits: { heartbeatMs: 60_000 } })
  h.session.onFrame(JSON.stringify({ type: 'subscribe', id: 1, servers: [S1] }), false)
  await h.tick()
  const line = (n: number) => JSON.stringify({ type: 'console', n })
  t.ok(h.session.sendEphemeral('console:a', line(1)), 'room: sent')
  h.setBuffered(240) // ephemeralBytes is 250: the next line does not fit
  t.notOk(h.session.sendEphemeral('console:a', line(2)))
  t.notOk(h.session.sendEphemeral('console:a', line(3)))
  t.notOk(h.session.sendEphemeral('stats:a', line(4)))
  h.registry.publish([ev(1)])
  t.same(h.events(), [1], 'events still flow below their high-water mark (1,000)')
  t.same(h.session.takeDropped(), new Map([['console:a', 2], ['stats:a', 1]]))
  t.same(h.session.takeDropped(), new Map(), 'counters restart')

  h.setBuffered(5_000)
  h.registry.publish([ev(2)]) // over the events' mark: they coalesce
  h.setBuffered(0)
  t.notOk(h.session.sendEphemeral('console:a', line(5)), 'dropped while events are behind, even with room')
  h.advance(50) // drained: resync for the events, then the latest event
  t.ok(h.session.sendEphemeral('console:a', line(6)), 'sent again once events caught up')
  t.same(h.frames.filter(f => f.type === 'console').map(f => f.n), [1, 6])
  t.equal(h.frames.filter(f => f.type === 'resync').length, 1, 'the one resync is the events\' own')
  t.same(h.closes, [])
})
