// The simulator's agent client against a scripted fake hub: handshake, seq and acks, replay after
// a drop, backoff, terminal closes, commands. Each test plays the hub's side step by step and
// waits for events (bounded by `within`), never for time to pass.
import t from 'tap'
import {
  createAgentClient, type AgentClient, type AgentClientOptions, type AgentCloseEvent
} from '../../agent-simulator/agent-client.ts'
import type { CommandMessage, ErrorMessage, WelcomeMessage } from '../../src/agent-protocol/index.ts'
import { createQueue, startFakeHub, within, type FakeConnection, type FakeHub, type Queue } from './fake-hub.ts'

const TOKEN = 'agent-token-for-tests'
const S1 = '6f1c3c1e-1d7b-4b7e-9c1a-0a1b2c3d4e5f'
const S2 = '7a2d4d2f-2e8c-4c8f-8d2b-1b2c3d4e5f60'
const CMD = '0b6f6a0e-8f3e-4c47-9a53-2f1d6c7b8a90'
const CMD2 = '1c7a7b1f-9a4f-4d58-8b64-3a2e7d8c9b01'

interface Harness {
  hub: FakeHub
  client: AgentClient
  closes: Queue<AgentCloseEvent>
  reconnects: Queue<{ attempt: number, delayMs: number }>
  errors: Queue<ErrorMessage>
  welcomes: Queue<WelcomeMessage>
  acks: number[]
}

/** A fake hub and a client of it with two servers (S1 RUNNING at seq 5, S2 never reported),
 *  torn down with the test: the client first, so that the hub's teardown cannot trigger a reconnect. */
async function setup (test: Pick<typeof t, 'teardown'>, overrides: Partial<AgentClientOptions> = {}): Promise<Harness> {
  const hub = await startFakeHub(TOKEN)
  const closes = createQueue<AgentCloseEvent>()
  const reconnects = createQueue<{ attempt: number, delayMs: number }>()
  const errors = createQueue<ErrorMessage>()
  const welcomes = createQueue<WelcomeMessage>()
  const acks: number[] = []
  const client = createAgentClient({
    url: hub.url,
    token: TOKEN,
    servers: [{ serverId: S1, status: 'RUNNING', seq: 5 }, { serverId: S2, status: 'STOPPED', seq: 0 }],
    agentVersion: 'test/1.0',
    // random 0: reconnects are immediate unless a test injects its own jitter.
    reconnect: { baseMs: 1, maxMs: 1 },
    random: () => 0,
    onClose: (e) => closes.push(e),
    onReconnect: (attempt, delayMs) => reconnects.push({ attempt, delayMs }),
    onErrorFrame: (frame) => errors.push(frame),
    onWelcome: (welcome) => welcomes.push(welcome),
    onAck: (ms) => acks.push(ms),
    ...overrides
  })
  test.teardown(async () => {
    await client.close()
    await hub.close()
  })
  return { hub, client, closes, reconnects, errors, welcomes, acks }
}

/** Plays the hub's side of a handshake: takes the next connection and its hello, sends welcome. */
async function handshake (h: Harness, lastSeq: Record<string, number> = {}): Promise<FakeConnection> {
  const conn = await h.hub.connections.take('a connection')
  const hello = await conn.frames.take('hello')
  if (hello.type !== 'hello') throw new Error(`expected hello first, got ${hello.type}`)
  conn.welcome(lastSeq)
  return conn
}

async function connected (h: Harness, lastSeq: Record<string, number> = {}): Promise<FakeConnection> {
  const welcome = h.client.connect()
  const conn = await handshake(h, lastSeq)
  await within(welcome, 'connect() to resolve')
  return conn
}

t.test('hello with the snapshot is the first frame, and connect() resolves on welcome', async (t) => {
  const h = await setup(t)
  const welcome = h.client.connect()
  t.equal(h.client.state, 'connecting')
  const conn = await h.hub.connections.take('a connection')
  t.equal(conn.authorization, `Bearer ${TOKEN}`)
  t.strictSame(await conn.frames.take('hello'), {
    type: 'hello',
    protocol: 1,
    agentVersion: 'test/1.0',
    servers: [{ serverId: S1, status: 'RUNNING', seq: 5 }, { serverId: S2, status: 'STOPPED', seq: 0 }]
  })
  conn.welcome({ [S1]: 5 })
  t.match(await within(welcome, 'welcome'), { type: 'welcome', lastSeq: { [S1]: 5 } })
  t.equal(h.client.state, 'ready')
})

t.test('report() sends the next seq and resolves on its ack', async (t) => {
  const h = await setup(t)
  const conn = await connected(h, { [S1]: 5 })
  const acked = h.client.report(S1, 'STOPPING', 'user request')
  const frame = await conn.frames.take('status')
  t.match(frame, { type: 'status', serverId: S1, status: 'STOPPING', seq: 6, reason: 'user request' })
  t.ok(frame.type === 'status' && Date.parse(frame.at) <= Date.now(), '`at` is an ISO time')
  conn.ack(S1, 6)
  t.strictSame(await within(acked, 'the ack'), { type: 'status.ack', serverId: S1, seq: 6 })
  t.equal(h.acks.length, 1, 'the latency hook saw the ack')
  t.ok((h.acks[0] ?? -1) >= 0)

  const second = h.client.report(S1, 'STOPPED')
  t.match(await conn.frames.take('status'), { seq: 7, status: 'STOPPED' })
  t.notOk('reason' in (conn.frames.items.at(-1) ?? {}), 'no reason, no field')
  conn.ack(S1, 7)
  await within(second, 'the second ack')
  t.strictSame(h.client.snapshot()[0], { serverId: S1, status: 'STOPPED', seq: 7 })
})

t.test('a welcome.lastSeq above ours raises the next seq', async (t) => {
  const h = await setup(t)
  const conn = await connected(h, { [S2]: 40 })
  const acked = h.client.report(S2, 'STARTING')
  t.match(await conn.frames.take('status'), { serverId: S2, seq: 41 })
  conn.ack(S2, 41)
  await within(acked, 'the ack')
})

t.test('illegal transitions, unknown servers and full outboxes throw locally and send nothing', async (t) => {
  const h = await setup(t, { maxPendingPerServer: 1 })
  const conn = await connected(h)
  t.throws(() => h.client.report(S1, 'INSTALLING'), { code: 'ILLEGAL_TRANSITION' })
  t.throws(() => h.client.report(S1, 'RUNNING'), { code: 'ILLEGAL_TRANSITION' }, 'same status')
  t.throws(() => h.client.report('a4d3b2c1-0000-4000-8000-000000000000', 'STOPPED'), { code: 'UNKNOWN_SERVER' })
  const acked = h.client.report(S1, 'CRASHED')
  t.throws(() => h.client.report(S1, 'STARTING'), { code: 'OUTBOX_FULL' })
  t.strictSame(h.client.snapshot()[0], { serverId: S1, status: 'CRASHED', seq: 6 }, 'refused reports changed nothing')
  t.match(await conn.frames.take('status'), { status: 'CRASHED', seq: 6 }, 'the first frame after hello is the legal one')
  conn.ack(S1, 6)
  await within(acked, 'the ack')
})

t.test('an error frame rejects the status it names, and only that one', async (t) => {
  const h = await setup(t)
  const conn = await connected(h)
  const first = h.client.report(S1, 'STOPPING')
  const second = h.client.report(S1, 'STOPPED')
  await conn.frames.take('status 6')
  await conn.frames.take('status 7')
  conn.send({ type: 'error', code: 'ILLEGAL_TRANSITION', message: 'RUNNING -> STOPPED', ref: `${S1}:7` })
  await t.rejects(within(second, 'the rejection'), { code: 'ILLEGAL_TRANSITION', ref: `${S1}:7`, message: 'RUNNING -> STOPPED' })
  t.match(await h.errors.take('onErrorFrame'), { code: 'ILLEGAL_TRANSITION' })
  conn.ack(S1, 6)
  t.match(await within(first, 'the ack'), { seq: 6 })

  // Bad input from sendRaw reaches the hub as is; its refusal names no status.
  h.client.sendRaw('{"type":"status"')
  t.match(await conn.frames.take('the raw frame'), { type: 'invalid', reason: 'invalid JSON', binary: false })
  h.client.sendRaw(Buffer.from('{}'))
  t.match(await conn.frames.take('the binary frame'), { type: 'invalid', binary: true })
  conn.send({ type: 'error', code: 'BAD_FRAME', message: 'invalid JSON' })
  t.match(await h.errors.take('onErrorFrame'), { code: 'BAD_FRAME' })
})

t.test('after a drop, unacked statuses are replayed in seq order and acked ones are not', async (t) => {
  const h = await setup(t)
  const conn = await connected(h, { [S1]: 5 })
  const a = h.client.report(S1, 'STOPPING')
  const sentA = await conn.frames.take('status 6')
  conn.ack(S1, 6)
  await within(a, 'ack 6')
  const b = h.client.report(S1, 'STOPPED')
  const c = h.client.report(S1, 'STARTING')
  const sentB = await conn.frames.take('status 7')
  const sentC = await conn.frames.take('status 8')

  conn.socket.terminate()
  t.match(await h.closes.take('the drop'), { code: 1006, willReconnect: true })
  // Reported while disconnected: queued, and part of the next hello's snapshot.
  const d = h.client.report(S1, 'RUNNING')

  const conn2 = await h.hub.connections.take('the reconnection')
  t.match(await conn2.frames.take('hello'), { servers: [{ serverId: S1, status: 'RUNNING', seq: 9 }] })
  // A hub that stored only what it acked: 7, 8 and 9 are still missing.
  conn2.welcome({ [S1]: 6 })
  const replayed = [await conn2.frames.take('replay 7'), await conn2.frames.take('replay 8'), await conn2.frames.take('replay 9')]
  t.strictSame(replayed.map((f) => f.type === 'status' && f.seq), [7, 8, 9])
  t.strictSame(replayed.slice(0, 2), [sentB, sentC], 'replays are the original frames, `at` included')
  t.notOk(replayed.includes(sentA), 'the acked status is not replayed')
  for (const seq of [7, 8, 9]) conn2.ack(S1, seq)
  t.strictSame((await within(Promise.all([b, c, d]), 'the replayed acks')).map((ack) => ack.seq), [7, 8, 9])
})

t.test('statuses covered by welcome.lastSeq resolve without a replay', async (t) => {
  const h = await setup(t)
  const conn = await connected(h, { [S1]: 5 })
  const b = h.client.report(S1, 'STOPPING')
  await conn.frames.take('status 6')
  conn.socket.terminate()
  await h.closes.take('the drop')
  // The real hub stores the hello snapshot (seq 6), so its welcome covers the unacked status.
  await handshake(h, { [S1]: 6 })
  t.strictSame(await within(b, 'the synthesized ack'), { type: 'status.ack', serverId: S1, seq: 6 })
  t.equal(h.acks.length, 0, 'no latency without a real ack')
  const conn2 = h.hub.connections.items[1] as FakeConnection
  const e = h.client.report(S1, 'STOPPED')
  t.match(await conn2.frames.take('status 7'), { seq: 7 }, 'the next frame after hello is the new status')
  conn2.ack(S1, 7)
  await within(e, 'ack 7')
})

t.test('reconnect delays are full jitter within the exponential bounds, reset by a welcome', async (t) => {
  const draws = [0.99, 0.5, 0.99, 0.25, 0.99, 0.99]
  const h = await setup(t, { reconnect: { baseMs: 8, maxMs: 40 }, random: () => draws.shift() ?? 0 })
  const conn = await connected(h)
  conn.socket.terminate()
  // Refuse the next four attempts by dropping them as they come in.
  for (let i = 0; i < 4; i++) (await h.hub.connections.take(`attempt ${i}`)).socket.terminate()
  const conn2 = await handshake(h)
  await h.welcomes.take('the first welcome')
  await h.welcomes.take('the welcome after four failures')
  conn2.socket.terminate()
  await handshake(h)

  const ceilings = [8, 16, 32, 40, 40, 8]
  const jitter = [0.99, 0.5, 0.99, 0.25, 0.99, 0.99]
  const seen = h.reconnects.items
  t.strictSame(seen.map((r) => r.attempt), [0, 1, 2, 3, 4, 0], 'attempts count up and restart after a welcome')
  seen.forEach(({ delayMs }, i) => {
    const ceiling = ceilings[i] ?? NaN
    t.ok(delayMs >= 0 && delayMs < ceiling, `delay ${i} in [0, ${ceiling})`)
    t.equal(delayMs, (jitter[i] ?? NaN) * ceiling, `delay ${i} is random() x ceiling`)
  })
})

for (const code of [4401, 4406, 4409]) {
  t.test(`close code ${code} is terminal: no reconnect, pending reports rejected`, async (t) => {
    const h = await setup(t)
    const conn = await connected(h)
    const pending = h.client.report(S1, 'STOPPING')
    await conn.frames.take('status')
    conn.socket.close(code, 'bye')
    t.strictSame(await h.closes.take('the close'), { code, reason: 'bye', willReconnect: false })
    t.equal(h.client.state, 'closed', 'closed for good: no reconnect timer is armed')
    await t.rejects(within(pending, 'the rejection'), { code: 'CLIENT_CLOSED', closeCode: code })
    t.throws(() => h.client.report(S1, 'STOPPING'), { code: 'CLIENT_CLOSED' })
    await t.rejects(h.client.connect(), { code: 'BAD_STATE' })
    t.equal(h.reconnects.items.length, 0)
  })
}

t.test('a reconnectable close code (4408) schedules a reconnect', async (t) => {
  const h = await setup(t)
  const conn = await connected(h)
  conn.socket.close(4408, 'heartbeat lost')
  t.strictSame(await h.closes.take('the close'), { code: 4408, reason: 'heartbeat lost', willReconnect: true })
  t.equal(h.client.state, 'backoff')
  await handshake(h)
  t.match(await h.welcomes.take('the first welcome'), { type: 'welcome' })
  t.match(await h.welcomes.take('the second welcome'), { type: 'welcome' })
})

t.test('close() closes with 1000, rejects what is pending and never reconnects', async (t) => {
  const h = await setup(t)
  const conn = await connected(h)
  const pending = h.client.report(S1, 'STOPPING')
  const closing = h.client.close()
  t.equal(h.client.state, 'closed')
  await t.rejects(within(pending, 'the rejection'), { code: 'CLIENT_CLOSED' })
  t.strictSame(await within(conn.closed, 'the hub to see the close'), { code: 1000, reason: 'agent closing' })
  await within(closing, 'close()')
  t.match(await h.closes.take('onClose'), { code: 1000, willReconnect: false })
  await within(h.client.close(), 'a second close()')
  t.equal(h.reconnects.items.length, 0)
})

t.test('a command is acked, run once, answered; a re-delivery after a reconnect is not run again', async (t) => {
  const runs: CommandMessage[] = []
  const h = await setup(t, {
    onCommand: async (cmd) => {
      runs.push(cmd)
      if (cmd.commandId === CMD2) throw new Error('docker is down')
      return { ok: true }
    }
  })
  const conn = await connected(h)
  const command: CommandMessage = {
    type: 'command',
    commandId: CMD,
    serverId: S1,
    action: 'STOP',
    issuedAt: new Date().toISOString(),
    expiresAt: new Date(Date.now() + 60_000).toISOString()
  }
  conn.send(command)
  t.strictSame(await conn.frames.take('command.ack'), { type: 'command.ack', commandId: CMD })
  t.strictSame(await conn.frames.take('command.result'), { type: 'command.result', commandId: CMD, ok: true })
  t.strictSame(runs, [command])

  conn.socket.terminate()
  const conn2 = await handshake(h)
  conn2.send(command)
  t.strictSame(await conn2.frames.take('command.ack again'), { type: 'command.ack', commandId: CMD })
  t.strictSame(await conn2.frames.take('the result again'), { type: 'command.result', commandId: CMD, ok: true },
    'the hub missed the result, so it is sent again')
  t.equal(runs.length, 1, 'not executed twice')

  conn2.send({ ...command, commandId: CMD2 })
  t.strictSame(await conn2.frames.take('command.ack'), { type: 'command.ack', commandId: CMD2 })
  t.strictSame(await conn2.frames.take('command.result'), {
    type: 'command.result', commandId: CMD2, ok: false, error: { code: 'AGENT_ERROR', message: 'docker is down' }
  }, 'a throwing onCommand is a failed result')
})

t.test('HTTP 401 on the upgrade rejects connect() with the status', async (t) => {
  const h = await setup(t, { token: 'wrong-token' })
  await t.rejects(within(h.client.connect(), 'the rejection'), { code: 'UPGRADE_REFUSED', statusCode: 401 })
  t.match(await h.closes.take('onClose'), { willReconnect: false })
  t.equal(h.client.state, 'idle', 'the caller may try again')
  t.equal(h.hub.connections.items.length, 0)
  t.equal(h.reconnects.items.length, 0)
})

t.test('a malformed URL rejects connect()', async (t) => {
  const h = await setup(t, { url: 'not a url' })
  await t.rejects(h.client.connect(), SyntaxError)
  t.equal(h.client.state, 'idle')
})

t.test('HTTP 401 on a reconnect ends the client', async (t) => {
  const h = await setup(t)
  const conn = await connected(h)
  h.hub.token = 'rotated'
  conn.socket.terminate()
  t.match(await h.closes.take('the drop'), { willReconnect: true })
  t.match(await h.closes.take('the refused reconnect'), { reason: 'upgrade refused with HTTP 401', willReconnect: false })
  t.equal(h.client.state, 'closed')
})

t.test('connect() rejects when no welcome comes in time', async (t) => {
  const h = await setup(t, { handshakeTimeoutMs: 50 })
  const connecting = h.client.connect()
  await h.hub.connections.take('a connection')
  await t.rejects(within(connecting, 'the rejection'), { code: 'HANDSHAKE_TIMEOUT' })
  t.equal(h.client.state, 'idle')
})

t.test('report() rejects after ackTimeoutMs, and a late ack still counts', async (t) => {
  const h = await setup(t, { ackTimeoutMs: 20 })
  const conn = await connected(h)
  const pending = h.client.report(S1, 'STOPPING')
  await conn.frames.take('status')
  await t.rejects(within(pending, 'the timeout'), { code: 'ACK_TIMEOUT' })
  conn.ack(S1, 6)
  // The ack frame is processed before the client sees the next one: use a round trip as a barrier.
  conn.send({ type: 'error', code: 'BAD_FRAME', message: 'barrier' })
  await h.errors.take('the barrier')
  t.equal(h.acks.length, 1, 'the late ack reported its latency')
})

t.test('a bad frame from the hub is logged and ignored', async (t) => {
  const warnings: object[] = []
  const h = await setup(t, { log: { debug () {}, warn: (obj) => { warnings.push(obj) } } })
  const conn = await connected(h)
  conn.socket.send('{"type":"status.ack"}')
  conn.send({ type: 'error', code: 'BAD_FRAME', message: 'barrier' })
  await h.errors.take('the barrier')
  t.strictSame(warnings, [{ reason: '/serverId: required' }])
  t.equal(h.client.state, 'ready')
})
