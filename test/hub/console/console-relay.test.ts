// The cross-hub console relay on its own (console/console-relay.ts), with a fake clock and a
// recorded notify: payloads stay under PostgreSQL's 8,000 bytes, lines go out in batches and only
// to hubs with a live lease, queues are bounded, untrusted payloads are refused.
import t from 'tap'
import { channelOf, createConsoleRelay, PAYLOAD_BYTES, WATCH_CHANNEL } from '../../../src/hub/console/console-relay.ts'
import { createFakeClock } from '../../helpers/fake-clock.ts'

const HUB_A = '00000000-0000-4000-8000-00000000000a'
const HUB_B = '00000000-0000-4000-8000-00000000000b'
const HUB_C = '00000000-0000-4000-8000-00000000000c'
const S1 = '00000000-0000-4000-8000-000000000001'

function relayOf (options: { maxQueueBytes?: number } = {}) {
  const clock = createFakeClock(1_000)
  const sent: Array<{ channel: string, payload: string }> = []
  const relay = createConsoleRelay({
    hubId: HUB_A,
    holds: () => true,
    notify: async (channel, payload) => { sent.push({ channel, payload }) },
    setTimer: clock.setTimer,
    now: clock.now,
    log: { warn () {} },
    ...options
  })
  relay.attach({ lines: () => ['ring 1'], latestStats: () => undefined, remoteConsole () {}, remoteStats () {} })
  return { clock, sent, relay }
}

t.test('batched, only to interested hubs, every payload under 8,000 bytes', async t => {
  const { clock, sent, relay } = relayOf()
  t.teardown(() => relay.stop())
  relay.lines(S1, ['nobody watches'])
  clock.advance(20)
  t.same(sent, [], 'no interest, no NOTIFY')

  t.ok(relay.onWatch(JSON.stringify({ hub: HUB_B, on: true, kind: 'console', ids: [S1], replay: true })))
  const line = 'x'.repeat(1_000)
  for (let i = 0; i < 100; i++) relay.lines(S1, [line])
  clock.advance(10)
  t.ok(sent.length >= 13 && sent.length <= 16, `100 KB of lines in ${sent.length} payloads, not 100`)
  t.ok(sent.every(s => s.channel === channelOf(HUB_B)), "only hub B's channel")
  t.ok(sent.every(s => Buffer.byteLength(s.payload) <= PAYLOAD_BYTES), 'every payload within the bound')
  t.same(JSON.parse(sent[0]!.payload)[0], { s: S1, l: ['ring 1'], r: 1 }, 'the replay goes first')

  relay.lines(S1, ['y'.repeat(9_000)])
  t.equal(relay.dropped, 1, 'a line too long for one payload is dropped and counted')

  // The lease lapses without renewal.
  sent.length = 0
  clock.advance(31_000)
  relay.lines(S1, ['late'])
  clock.advance(10)
  t.same(sent.filter(s => s.channel !== WATCH_CHANNEL), [], 'no forwarding after the lease expired')
})

t.test('bounded queue; untrusted payloads refused', async t => {
  const { clock, sent, relay } = relayOf({ maxQueueBytes: 10_000 })
  t.teardown(() => relay.stop())
  relay.onWatch(JSON.stringify({ hub: HUB_C, on: true, kind: 'console', ids: [S1] }))
  for (let i = 0; i < 100; i++) relay.lines(S1, ['z'.repeat(500)])
  t.ok(relay.dropped > 70, `over the queue bound: ${relay.dropped} dropped`)
  clock.advance(10)
  t.ok(sent.reduce((n, s) => n + s.payload.length, 0) <= 12_000, 'at most the bound went out')

  t.notOk(relay.onWatch(JSON.stringify({ hub: 'NOT-AN-ID', on: true, kind: 'console', ids: [S1] })), 'bad hub id')
  t.notOk(relay.onWatch(JSON.stringify({ hub: HUB_B, on: true, kind: 'shell', ids: [S1] })), 'bad kind')
  t.throws(() => relay.onWatch('{nope'), 'not JSON (pg-listener catches and logs it)')
  t.notOk(relay.onForward('{"a":1}'), 'not a list')
  t.ok(relay.onForward(JSON.stringify([{ s: S1.toUpperCase(), l: ['x'] }, { s: S1, l: [1] }, null])), 'bad items are skipped')

  relay.onWatch(JSON.stringify({ hub: HUB_B, on: true, kind: 'stats', ids: [S1] }))
  t.equal(relay.remoteServers, 1)
  relay.forget(S1)
  t.equal(relay.remoteServers, 0, 'forget: the deleted server\'s leases go')
})

t.test('a failed NOTIFY counts its lines as dropped', async t => {
  const clock = createFakeClock(1_000)
  let fail = false
  const relay = createConsoleRelay({
    hubId: HUB_A,
    holds: () => false,
    notify: async () => { if (fail) throw new Error('database down') },
    setTimer: clock.setTimer,
    now: clock.now,
    log: { warn () {} }
  })
  t.teardown(() => relay.stop())
  relay.attach({ lines: () => [], latestStats: () => undefined, remoteConsole () {}, remoteStats () {} })
  relay.onWatch(JSON.stringify({ hub: HUB_B, on: true, kind: 'console', ids: [S1] }))
  fail = true
  relay.lines(S1, ['a', 'b', 'c'])
  clock.advance(10)
  await new Promise(resolve => setImmediate(resolve))
  t.equal(relay.dropped, 3)
})

t.test('interest changes are coalesced per flush: 500 panels subscribing at once are a few NOTIFYs, the latest change wins', async t => {
  const { clock, sent, relay } = relayOf()
  t.teardown(() => relay.stop())
  const server = (i: number) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`
  for (let i = 1; i <= 2_000; i++) {
    relay.interest(server(i), 'console', true, i <= 4)
    relay.interest(server(i), 'stats', true, false)
  }
  relay.interest(server(2_000), 'console', false, false)
  t.same(sent, [], 'nothing before the flush')
  clock.advance(10)
  const watches = sent.filter(s => s.channel === WATCH_CHANNEL).map(s => JSON.parse(s.payload) as { on: boolean, kind: string, ids: string[], replay?: boolean })
  t.equal(watches.length, 1 + 20 + 20 + 1, 'one replay payload, 20 console and 20 stats payloads of 100 ids, one off: not 4,001')
  t.same(watches.filter(w => w.replay === true).flatMap(w => w.ids), [1, 2, 3, 4].map(server), 'the replay requests together')
  t.same(watches.filter(w => !w.on).flatMap(w => w.ids), [server(2_000)], 'on then off in one flush: off')
  t.equal(new Set(watches.filter(w => w.on && w.kind === 'console').flatMap(w => w.ids)).size, 1_999, 'every other console interest (the four with replay among them), once')
  t.ok(watches.every(w => w.ids.length <= 100))
  sent.length = 0
  clock.advance(10)
  t.same(sent.filter(s => s.channel === WATCH_CHANNEL), [], 'sent once')
})

t.test('direct links: an open link carries the queue at once, packed; NOTIFY until it opens, and the NOTIFYs on their way go first', async t => {
  const clock = createFakeClock(1_000)
  const notified: string[] = []
  let release = () => {}
  let hold = false
  const frames: string[] = []
  let state: 'open' | 'connecting' | 'down' = 'connecting'
  let frameBytes = 16_384
  let accept = true
  const dialled: string[] = []
  let retained: string[] = []
  const relay = createConsoleRelay({
    hubId: HUB_A,
    holds: () => true,
    notify: async (channel, payload) => {
      if (channel === WATCH_CHANNEL) return
      notified.push(payload)
      if (hold) await new Promise<void>(resolve => { release = resolve })
    },
    links: {
      state: (hub, addr) => { dialled.push(`${hub} ${addr}`); return state },
      send: (_hub, frame) => { if (accept) frames.push(frame); return accept },
      frameBytes: () => frameBytes,
      retain: hubs => { retained = [...hubs] }
    },
    addr: () => 'ws://10.0.0.1:8080',
    setTimer: clock.setTimer,
    now: clock.now,
    log: { warn () {} }
  })
  t.teardown(() => relay.stop())
  relay.attach({ lines: () => ['ring 1'], latestStats: () => undefined, remoteConsole () {}, remoteStats () {} })
  const settle = async () => await new Promise(resolve => setImmediate(resolve))

  t.ok(relay.onWatch(JSON.stringify({ hub: HUB_B, addr: 'ws://10.0.0.2:8080/', on: true, kind: 'console', ids: [S1], replay: true })))
  t.same([...new Set(dialled)], [`${HUB_B} ws://10.0.0.2:8080`], 'the replay to send dials at once, at the address in its one spelling')
  hold = true
  relay.lines(S1, ['while dialling'])
  clock.advance(10)
  t.match(notified, [/ring 1.*while dialling/], 'while the link is being dialled: NOTIFY, the replay first')

  state = 'open'
  relay.lines(S1, ['after the NOTIFY'])
  clock.advance(20)
  t.same(frames, [], 'the link is open, but a NOTIFY to that hub is still being sent: the queue waits')
  release()
  await settle()
  clock.advance(10)
  t.same(frames, [], 'that NOTIFY committed, but its delivery may lag its commit: the queue waits a little more')
  clock.advance(100)
  t.equal(frames.length, 1)
  t.same(JSON.parse(frames[0]!).items, [{ s: S1, l: ['after the NOTIFY'] }], 'then the link, in order')

  hold = false
  relay.lines(S1, ['x', 'y', 'z', 'w', 'v', 'u'].map(c => c.repeat(3_000)))
  clock.advance(0)
  t.ok(frames.length >= 3, `packed into ${frames.length - 1} frames of at most 16 KB, on the next timer turn`)
  t.ok(frames.every(f => Buffer.byteLength(f) <= 16_384))
  t.same(frames.slice(1).flatMap(f => (JSON.parse(f) as { items: Array<{ l: string[] }> }).items).flatMap(i => i.l).map(l => l[0]), ['x', 'y', 'z', 'w', 'v', 'u'], 'in order')
  t.equal(relay.sent.link, frames.length)

  accept = false
  relay.lines(S1, ['lost'])
  clock.advance(0)
  t.same(relay.drops, { queue: 0, link: 1, notify: 0, size: 0 }, 'a frame the link refuses (buffer full) is dropped and counted')

  state = 'down'
  relay.lines(S1, ['by notify'])
  clock.advance(10)
  t.match(notified.at(-1), /by notify/, 'a link down: NOTIFY')
  await settle()
  state = 'open'
  frameBytes = 4_096
  relay.lines(S1, ['small frames'])
  clock.advance(10)
  t.match(notified.at(-1), /small frames/, 'a hub taking frames under 8 KB: NOTIFY')

  // A bad address from another hub is not dialled.
  dialled.length = 0
  relay.onWatch(JSON.stringify({ hub: HUB_C, addr: 'http://10.0.0.3:8080', on: true, kind: 'console', ids: [S1] }))
  relay.onWatch(JSON.stringify({ hub: HUB_C, addr: 'ws://user:pw@10.0.0.3:8080', on: true, kind: 'console', ids: [S1] }))
  relay.onWatch(JSON.stringify({ hub: HUB_C, addr: 'ws://10.0.0.3:8080/elsewhere', on: true, kind: 'console', ids: [S1] }))
  relay.lines(S1, ['to b and c'])
  t.same(dialled.filter(d => d.startsWith(HUB_C)), [], 'only ws:// or wss:// with a host and port is dialled')
  const S2 = '00000000-0000-4000-8000-000000000002'
  relay.onWatch(JSON.stringify({ hub: HUB_C, addr: 'ws://10.0.0.3:8080', on: true, kind: 'console', ids: [S2] }))
  t.same(dialled.filter(d => d.startsWith(HUB_C)), [], 'a watch alone dials nothing (this hub may hold none of its servers)')
  relay.lines(S2, ['for c'])
  t.same([...new Set(dialled.filter(d => d.startsWith(HUB_C)))], [`${HUB_C} ws://10.0.0.3:8080`], 'the first line for it does')
  clock.advance(10_000)
  t.same(retained.sort(), [HUB_B, HUB_C].sort(), 'the renewal keeps the links of hubs with a live lease')
  clock.advance(30_000)
  t.same(retained, [], 'and lets go of them when the leases lapse')
})

t.test('my watches carry my link address', async t => {
  const clock = createFakeClock(1_000)
  const watches: string[] = []
  const relay = createConsoleRelay({
    hubId: HUB_A,
    holds: () => false,
    notify: async (channel, payload) => { if (channel === WATCH_CHANNEL) watches.push(payload) },
    addr: () => 'ws://10.0.0.1:8080',
    setTimer: clock.setTimer,
    now: clock.now,
    log: { warn () {} }
  })
  t.teardown(() => relay.stop())
  relay.interest(S1, 'console', true, false)
  clock.advance(10)
  t.match(JSON.parse(watches[0]!), { hub: HUB_A, addr: 'ws://10.0.0.1:8080', on: true, kind: 'console', ids: [S1] })
})

t.test('a bad item is skipped, the rest of its batch arrives; a stats item must be a stats frame', async t => {
  const { relay } = relayOf()
  t.teardown(() => relay.stop())
  const got: string[] = []
  relay.attach({
    lines: () => [],
    latestStats: () => undefined,
    remoteConsole: (serverId, lines) => { got.push(`${serverId} ${lines.join()}`) },
    remoteStats: (serverId, frame) => { got.push(`${serverId} ${frame}`) }
  })
  const stats = JSON.stringify({ type: 'stats', serverId: S1, cpu: 1 })
  const items = [
    { f: 'not json' },
    { f: 'null' },
    { f: JSON.stringify({ type: 'subscribed', serverId: S1 }) },
    { f: JSON.stringify({ type: 'stats', serverId: 'x' }) },
    null,
    { s: S1, l: [1] },
    { s: S1, l: [] },
    { s: S1, l: ['after the bad ones'] },
    { f: stats }
  ]
  t.ok(relay.onLink(JSON.stringify({ type: 'relay', items })))
  t.ok(relay.onForward(JSON.stringify(items)))
  t.same(got, [`${S1} after the bad ones`, `${S1} ${stats}`, `${S1} after the bad ones`, `${S1} ${stats}`], 'by link and by NOTIFY: only the good items, all of them')
})

t.test('hub ids in watches are untrusted: watches from more than 1,024 hubs are ignored until leases lapse', async t => {
  const { clock, relay } = relayOf()
  t.teardown(() => relay.stop())
  const hub = (i: number) => `00000000-0000-4000-9000-${i.toString(16).padStart(12, '0')}`
  let handled = 0
  for (let i = 1; i <= 5_000; i++) if (relay.onWatch(JSON.stringify({ hub: hub(i), addr: `ws://10.0.${i >> 8}.${i & 255}:8080`, on: true, kind: 'console', ids: [S1] }))) handled++
  t.equal(handled, 5_000, 'well-formed: handled (not logged as bad payloads)')
  t.equal(relay.interestedHubs(S1).length, 1_024, 'leases of 1,024 hubs, not 5,000')
  relay.onWatch(JSON.stringify({ hub: hub(1), on: true, kind: 'console', ids: [S1] }))
  t.ok(relay.interestedHubs(S1).includes(hub(1)), 'a known hub renews')
  clock.advance(40_000)
  t.equal(relay.interestedHubs(S1).length, 0)
  relay.onWatch(JSON.stringify({ hub: hub(4_999), on: true, kind: 'console', ids: [S1] }))
  t.same(relay.interestedHubs(S1), [hub(4_999)], 'room again once the leases lapse')
})

t.test('a renewal asks nothing: only a new stats lease gets the latest stats (and costs a holder check)', async t => {
  const clock = createFakeClock(1_000)
  const sent: string[] = []
  let asked = 0
  const relay = createConsoleRelay({
    hubId: HUB_A,
    holds: () => { asked++; return true },
    notify: async (channel, payload) => { if (channel !== WATCH_CHANNEL) sent.push(payload) },
    setTimer: clock.setTimer,
    now: clock.now,
    log: { warn () {} }
  })
  t.teardown(() => relay.stop())
  relay.attach({ lines: () => [], latestStats: id => JSON.stringify({ type: 'stats', serverId: id, cpuPercent: 1 }), remoteConsole () {}, remoteStats () {} })
  const watch = JSON.stringify({ hub: HUB_B, on: true, kind: 'stats', ids: [S1] })
  relay.onWatch(watch)
  clock.advance(10)
  t.equal(asked, 1)
  t.equal(sent.length, 1, 'the latest stats for the new lease')
  relay.onWatch(watch)
  clock.advance(10)
  t.equal(asked, 1, 'the renewal did not look for the holder')
  t.equal(sent.length, 1, 'nor send the stats again')
  clock.advance(31_000)
  relay.onWatch(watch)
  clock.advance(10)
  t.equal(sent.length, 2, 'a lease renewed after it lapsed is new again')
})
