// The realtime core without sockets: a fake transport that records frames, an injected clock
// and timers that fire only when the test advances time.
import t from 'tap'
import { createAgentSession, type AgentSessionLimits } from '../../../src/hub/agents/agent-session.ts'
import type { IngestOutcome } from '../../../src/hub/agents/status-ingest.ts'
import { createFakeClock } from '../../helpers/fake-clock.ts'
import { createFakeTransport } from '../../helpers/fake-transport.ts'

const LIMITS: AgentSessionLimits = { heartbeatMs: 1_000, helloTimeoutMs: 5_000, maxFrameBytes: 65_536, ratePerSecond: 100, burst: 100, maxBadFrames: 3, maxLimitedFrames: 10, maxBufferedBytes: 1_000_000, ephemeralBytes: 0 }
const SERVER = '6b1e0f38-4c5e-4d7e-9f5e-1b2c3d4e5f60'

function harness (limits: Partial<AgentSessionLimits> = {}) {
  const clock = createFakeClock()
  const transport = createFakeTransport()
  const session = createAgentSession({
    nodeId: 'node-1',
    transport,
    limits: { ...LIMITS, ...limits },
    now: clock.now,
    setTimer: clock.setTimer,
    hello: async () => ({ lastSeq: { [SERVER]: 0 }, foreign: [] }),
    submit: async (): Promise<IngestOutcome> => ({ ok: true }),
    log: { warn () {} }
  })
  const hello = async () => {
    session.onFrame(JSON.stringify({ type: 'hello', protocol: 1, agentVersion: 't', servers: [] }), false)
    await new Promise(resolve => setImmediate(resolve))
  }
  return { session, transport, frames: transport.frames, closes: transport.closes, advance: clock.advance, hello, timers: clock.timers, pings: () => transport.pings }
}

t.test('no hello within the timeout closes with 4408', async t => {
  const h = harness({ heartbeatMs: 10_000 })
  h.advance(4_999)
  t.same(h.closes, [])
  h.advance(1)
  t.same(h.closes, [[4408, 'hello timeout']])
  t.equal(h.timers.size, 0, 'no timer left behind')
})

t.test('heartbeats ping every interval and a silent peer is dropped after 2 intervals', async t => {
  const h = harness()
  await h.hello()
  t.match(h.frames, [{ type: 'welcome', heartbeatMs: 1_000 }])
  h.advance(1_000)
  t.equal(h.pings(), 1)
  h.session.onPong()
  h.advance(2_000)
  t.equal(h.pings(), 3, 'still alive: heard from within 2 intervals')
  t.same(h.closes, [])
  h.advance(1_000)
  t.same(h.closes, [[4408, 'heartbeat lost']])
  t.equal(h.timers.size, 0)
})

t.test('bad frames are answered, then the connection closes with 4400', async t => {
  const h = harness()
  for (let i = 0; i < 4; i++) h.session.onFrame('nope', false)
  t.equal(h.frames.filter(f => f.code === 'BAD_FRAME').length, 4)
  t.same(h.closes, [[4400, 'too many bad frames']])
  h.session.onFrame('nope', false)
  t.equal(h.frames.length, 4, 'nothing is sent after close')
})

t.test('the rate limit refills with time', async t => {
  const h = harness({ ratePerSecond: 10, burst: 2, maxLimitedFrames: 100 })
  await h.hello()
  const status = (seq: number) => JSON.stringify({ type: 'status', serverId: SERVER, status: 'STARTING', seq, at: '2024-05-01T12:00:00.000Z' })
  h.session.onFrame(status(1), false)
  h.session.onFrame(status(2), false)
  t.match(h.frames.at(-1), { type: 'error', code: 'RATE_LIMITED' })
  h.advance(100)
  h.session.onFrame(status(2), false)
  await new Promise(resolve => setImmediate(resolve))
  t.match(h.frames.at(-1), { type: 'status.ack', seq: 2 }, 'one token back after 100 ms at 10/s')
  h.session.onClosed()
  t.equal(h.timers.size, 0)
})

t.test('an agent that sends but never reads is closed with 1008 once its unread frames pass the bound', async t => {
  const h = harness({ maxBufferedBytes: 2_000 })
  h.transport.grow = true // nothing the hub sends is ever read
  await h.hello()
  const status = (seq: number) => JSON.stringify({ type: 'status', serverId: SERVER, status: 'STARTING', seq, at: '2024-05-01T12:00:00.000Z' })
  for (let seq = 1; seq <= 100 && h.closes.length === 0; seq++) {
    h.session.onFrame(status(seq), false)
    await new Promise(resolve => setImmediate(resolve))
  }
  t.same(h.closes, [[1008, 'too slow: the peer does not read its frames']])
  t.ok(h.transport.buffered <= 2_000, `never more than the bound held (${h.transport.buffered} bytes)`)
  const acks = h.frames.filter(f => f.type === 'status.ack').length
  t.ok(acks > 5 && acks < 100, `acks up to the bound, then none (${acks})`)
  h.session.onFrame(status(1_000), false)
  await new Promise(resolve => setImmediate(resolve))
  t.equal(h.frames.filter(f => f.type === 'status.ack').length, acks, 'nothing is sent after the close')
  t.equal(h.timers.size, 0, 'no timer left behind')
})

t.test('a burst of configurations is paced below the send bound instead of closing the agent (1008)', async t => {
  const clock = createFakeClock()
  const transport = createFakeTransport()
  transport.grow = true // nothing drains until the test says so
  const session = createAgentSession({
    nodeId: 'node-1',
    transport,
    limits: { ...LIMITS, maxBufferedBytes: 100_000 },
    now: clock.now,
    setTimer: clock.setTimer,
    features: ['provision'],
    hello: async () => ({ lastSeq: {}, foreign: [] }),
    submit: async (): Promise<IngestOutcome> => ({ ok: true }),
    log: { warn () {} }
  })
  session.onFrame(JSON.stringify({ type: 'hello', protocol: 1, agentVersion: 't', features: ['provision'], servers: [] }), false)
  await new Promise(resolve => setImmediate(resolve))
  const serverIds = Array.from({ length: 10 }, (_, i) => `6b1e0f38-4c5e-4d7e-9f5e-1b2c3d4e5f${String(i).padStart(2, '0')}`)
  const config = (serverId: string, revision: number) => ({ type: 'server.config', serverId, revision, name: 'x'.repeat(20_000) }) as any
  for (const id of serverIds) session.sendFeature('provision', config(id, 1))
  session.sendFeature('provision', config(serverIds[9]!, 2)) // replaces the one still waiting
  const configs = () => transport.frames.filter(f => f.type === 'server.config')
  t.same(transport.closes, [], 'not closed: the burst waits instead of overflowing')
  t.ok(configs().length >= 2 && configs().length < 10, `some sent at once (${configs().length}), the rest wait`)
  for (let i = 0; i < 20 && configs().length < 10; i++) {
    transport.buffered = 0 // the peer reads
    clock.advance(20)
  }
  t.same(configs().map(f => [f.serverId, f.revision]), serverIds.map((id, i) => [id, i === 9 ? 2 : 1]), 'every server once, the newest revision')
  t.same(transport.closes, [])
  session.close(1000, 'done')
  t.equal(clock.timers.size, 0, 'no timer left behind')
})

t.test('console frames skip the frame budget however they are spelled, as Buffers or strings; others do not', async t => {
  const clock = createFakeClock()
  const transport = createFakeTransport()
  const streamed: unknown[] = []
  const session = createAgentSession({
    nodeId: 'node-1',
    transport,
    limits: { ...LIMITS, ratePerSecond: 1, burst: 1, maxLimitedFrames: 100 },
    now: clock.now,
    setTimer: clock.setTimer,
    features: ['console'],
    stream: msg => streamed.push(msg),
    hello: async () => ({ lastSeq: { [SERVER]: 0 }, foreign: [] }),
    submit: async (): Promise<IngestOutcome> => ({ ok: true }),
    log: { warn () {} }
  })
  session.onFrame(JSON.stringify({ type: 'hello', protocol: 1, agentVersion: 't', servers: [], features: ['console'] }), false)
  await new Promise(resolve => setImmediate(resolve))
  t.match(transport.frames, [{ type: 'welcome', features: ['console'] }], 'the hello took the only token')
  const lines = `"serverId":"${SERVER}","lines":["a"]}`
  session.onFrame(Buffer.from(`{"type":"console",${lines}`), false)
  session.onFrame(`{"type":"console",${lines}`, false)
  session.onFrame(Buffer.from(`{ "type" : "console", ${lines}`), false)
  session.onFrame(` {"type":"console",${lines}`, false)
  t.equal(streamed.length, 4, 'all four went past the empty bucket')
  session.onFrame(Buffer.from(`{"type":"consoles",${lines}`), false)
  t.match(transport.frames.at(-1), { type: 'error', code: 'RATE_LIMITED' }, 'a type that only starts like console takes the budget')
  session.onFrame(Buffer.from('{"type":"status"}'), false)
  t.match(transport.frames.at(-1), { type: 'error', code: 'RATE_LIMITED' })
  t.equal(streamed.length, 4)
})
