// decodeAgentMessage: every agent -> hub message, valid and invalid, with the exact reason.
import t from 'tap'
import { MAX_SEQ, decodeAgentMessage, encode, type AgentMessage } from '../../src/agent-protocol/index.ts'

const SERVER = '6f1c3c1e-1d7b-4b7e-9c1a-0a1b2c3d4e5f'
const COMMAND = '0b6f6a0e-8f3e-4c47-9a53-2f1d6c7b8a90'
const AT = '2024-05-01T12:00:00.000Z'

const hello = (o: object = {}) => ({
  type: 'hello',
  protocol: 1,
  agentVersion: '1.2.3',
  servers: [{ serverId: SERVER, status: 'RUNNING', seq: 7 }],
  ...o
})
const helloServer = (o: object) => hello({ servers: [{ serverId: SERVER, status: 'RUNNING', seq: 7, ...o }] })
const status = (o: object = {}) => ({ type: 'status', serverId: SERVER, status: 'RUNNING', seq: 8, at: AT, ...o })
const ack = (o: object = {}) => ({ type: 'command.ack', commandId: COMMAND, ...o })
const result = (o: object = {}) => ({ type: 'command.result', commandId: COMMAND, ok: true, ...o })

// The assertion the helpers need; the root `t` and every subtest have it.
type Assert = Pick<typeof t, 'strictSame'>

function without (msg: Record<string, unknown>, key: string): object {
  const copy = { ...msg }
  delete copy[key]
  return copy
}

function accepts (t: Assert, value: unknown, name: string) {
  const r = decodeAgentMessage(JSON.stringify(value))
  t.strictSame(r, { ok: true, msg: value }, name)
}

function refuses (t: Assert, value: unknown, reason: string, name = reason) {
  const r = decodeAgentMessage(typeof value === 'string' ? value : JSON.stringify(value))
  t.strictSame(r, { ok: false, error: { code: 'BAD_FRAME', reason } }, name)
}

t.test('hello', async (t) => {
  accepts(t, hello(), 'one server')
  accepts(t, hello({ servers: [] }), 'no servers')
  accepts(t, helloServer({ seq: 0 }), 'seq 0: never reported')
  accepts(t, helloServer({ seq: MAX_SEQ }), 'seq MAX_SEQ')
  for (const s of ['INSTALLING', 'STOPPED', 'STARTING', 'RUNNING', 'STOPPING', 'CRASHED']) {
    accepts(t, helloServer({ status: s }), `status ${s}`)
  }
  // The version check is the hub's, so it can close 4406 instead of answering BAD_FRAME.
  accepts(t, hello({ protocol: 2 }), 'unsupported protocol decodes')
  accepts(t, hello({ protocol: 0 }), 'protocol 0 decodes')

  refuses(t, hello({ protocol: 1.5 }), '/protocol: must be integer')
  refuses(t, hello({ protocol: '1' }), '/protocol: must be integer')
  refuses(t, without(hello(), 'protocol'), '/protocol: required')
  refuses(t, hello({ agentVersion: '' }), '/agentVersion: must not have fewer than 1 characters')
  refuses(t, hello({ agentVersion: 'v'.repeat(65) }), '/agentVersion: must not have more than 64 characters')
  accepts(t, hello({ agentVersion: 'v'.repeat(64) }), 'agentVersion of 64 characters')
  refuses(t, without(hello(), 'agentVersion'), '/agentVersion: required')
  refuses(t, without(hello(), 'servers'), '/servers: required')
  refuses(t, hello({ servers: {} }), '/servers: must be array')
  refuses(t, hello({ extra: true }), '/extra: unexpected property')

  refuses(t, helloServer({ status: 'UNKNOWN' }),
    '/servers/0/status: must be one of INSTALLING, STOPPED, STARTING, RUNNING, STOPPING, CRASHED',
    'an agent never reports UNKNOWN')
  refuses(t, helloServer({ status: 'running' }),
    '/servers/0/status: must be one of INSTALLING, STOPPED, STARTING, RUNNING, STOPPING, CRASHED')
  refuses(t, helloServer({ serverId: 'not-a-uuid' }), '/servers/0/serverId: must be a lower-case UUID')
  refuses(t, helloServer({ seq: -1 }), '/servers/0/seq: must be >= 0')
  refuses(t, helloServer({ seq: 1.5 }), '/servers/0/seq: must be integer')
  refuses(t, helloServer({ seq: 2 ** 60 }), '/servers/0/seq: must be <= 9007199254740991')
  refuses(t, helloServer({ seq: '7' }), '/servers/0/seq: must be integer')
  refuses(t, helloServer({ extra: 1 }), '/servers/0/extra: unexpected property')
  refuses(t, hello({ servers: [{ serverId: SERVER, status: 'RUNNING' }] }), '/servers/0/seq: required')
  refuses(t, hello({ servers: [null] }), '/servers/0: must be object')
})

t.test('hello: at most 10,000 servers', async (t) => {
  const entry = { serverId: SERVER, status: 'STOPPED', seq: 0 }
  const limits = { maxBytes: 2 * 1024 * 1024 }
  const ok = decodeAgentMessage(JSON.stringify(hello({ servers: Array(10_000).fill(entry) })), limits)
  t.equal(ok.ok, true, '10,000 accepted')
  const tooMany = decodeAgentMessage(JSON.stringify(hello({ servers: Array(10_001).fill(entry) })), limits)
  t.strictSame(tooMany, { ok: false, error: { code: 'BAD_FRAME', reason: '/servers: must not have more than 10000 items' } })
})

t.test('status', async (t) => {
  accepts(t, status(), 'without reason')
  accepts(t, status({ reason: 'exit code 137' }), 'with reason')
  accepts(t, status({ reason: 'r'.repeat(256) }), 'reason of 256 characters')
  accepts(t, status({ seq: 1 }), 'seq 1')
  accepts(t, status({ seq: MAX_SEQ }), 'seq MAX_SEQ')
  accepts(t, status({ at: '2024-05-01T12:00:00Z' }), 'at without milliseconds')

  refuses(t, status({ seq: 0 }), '/seq: must be >= 1', 'seq 0')
  refuses(t, status({ seq: -3 }), '/seq: must be >= 1', 'negative seq')
  refuses(t, status({ seq: 1.5 }), '/seq: must be integer', 'fractional seq')
  refuses(t, status({ seq: 2 ** 60 }), '/seq: must be <= 9007199254740991', 'seq beyond MAX_SEQ')
  refuses(t, status({ seq: '8' }), '/seq: must be integer', 'seq as a string')
  refuses(t, status({ seq: null }), '/seq: must be integer', 'seq null')
  refuses(t, status({ status: 'UNKNOWN' }),
    '/status: must be one of INSTALLING, STOPPED, STARTING, RUNNING, STOPPING, CRASHED', 'UNKNOWN from an agent')
  refuses(t, status({ status: 3 }),
    '/status: must be one of INSTALLING, STOPPED, STARTING, RUNNING, STOPPING, CRASHED')
  refuses(t, status({ serverId: SERVER.toUpperCase().slice(1) }), '/serverId: must be a lower-case UUID')
  refuses(t, status({ at: 'yesterday' }), '/at: must match format "agent-instant"')
  refuses(t, status({ at: 1714564800000 }), '/at: must be string')
  refuses(t, status({ reason: 'r'.repeat(257) }), '/reason: must not have more than 256 characters')
  refuses(t, status({ reason: null }), '/reason: must be string')
  // PostgreSQL cannot store these; one would fail the whole batch it lands in, on every resend.
  refuses(t, status({ reason: 'a\u0000b' }), '/reason: must match format "storable-text"', 'a NUL character')
  refuses(t, status({ reason: 'a\ud800b' }), '/reason: must match format "storable-text"', 'a lone surrogate')
  accepts(t, status({ reason: 'é 🎮 \' " $$' }), 'any other text')
  for (const key of ['serverId', 'status', 'seq', 'at']) {
    refuses(t, without(status(), key), `/${key}: required`)
  }
  refuses(t, status({ node: 'x' }), '/node: unexpected property')
})

t.test('command.ack', async (t) => {
  accepts(t, ack(), 'valid')
  refuses(t, ack({ commandId: 'abc' }), '/commandId: must be a lower-case UUID')
  refuses(t, ack({ commandId: 42 }), '/commandId: must be string')
  refuses(t, without(ack(), 'commandId'), '/commandId: required')
  refuses(t, ack({ serverId: SERVER }), '/serverId: unexpected property')
})

t.test('command.result', async (t) => {
  accepts(t, result(), 'ok')
  accepts(t, result({ ok: false, error: { code: 'EXIT_1', message: 'the server would not start' } }), 'failed')
  accepts(t, result({ ok: false, error: { code: 'c'.repeat(64), message: 'm'.repeat(1024) } }), 'longest error')

  refuses(t, result({ ok: 'yes' }), '/ok: must be boolean')
  refuses(t, without(result(), 'ok'), '/ok: required')
  refuses(t, result({ error: 'boom' }), '/error: must be object')
  refuses(t, result({ ok: false, error: { code: 'X' } }), '/error/message: required')
  refuses(t, result({ ok: false, error: { code: 'c'.repeat(65), message: '' } }), '/error/code: must not have more than 64 characters')
  refuses(t, result({ ok: false, error: { code: 'X', message: 'm'.repeat(1025) } }), '/error/message: must not have more than 1024 characters')
  refuses(t, result({ ok: false, error: { code: 'X', message: '', stack: '...' } }), '/error/stack: unexpected property')
})

t.test('type', async (t) => {
  refuses(t, { commandId: COMMAND }, '/type: required')
  refuses(t, { type: 7 }, '/type: must be string')
  refuses(t, { type: null }, '/type: must be string')
  refuses(t, { type: 'bye' }, 'unknown type "bye"')
  refuses(t, { type: '' }, 'unknown type ""')
  refuses(t, { type: 'welcome' }, 'unknown type "welcome"', 'a hub -> agent type from an agent')
  refuses(t, { type: 'constructor' }, 'unknown type "constructor"', 'no lookup through Object.prototype')
  refuses(t, { type: 'toString' }, 'unknown type "toString"')
  refuses(t, { type: '__proto__' }, 'unknown type "__proto__"')
  refuses(t, { type: 'x'.repeat(1000) }, `unknown type "${'x'.repeat(64)}..."`, 'a long type is truncated')
  refuses(t, { ...ack(), ['k'.repeat(100)]: 1 }, `/${'k'.repeat(64)}...: unexpected property`, 'a long key is truncated')
  refuses(t, { ...ack(), 'a/b~c': 1 }, '/a~1b~0c: unexpected property', 'keys are JSON-pointer escaped')
})

t.test('prototype poisoning', async (t) => {
  const text = (value: object, key: string, payload: string) =>
    JSON.stringify(value).replace(/}$/, `,"${key}":${payload}}`)

  refuses(t, text(status(), '__proto__', '{"polluted":true}'), 'forbidden key "__proto__"', 'top level')
  refuses(t, text(ack(), '__proto__', 'null'), 'forbidden key "__proto__"', 'top level, null value')
  refuses(t, `{"type":"hello","protocol":1,"agentVersion":"1","servers":[{"serverId":"${SERVER}","status":"RUNNING","seq":0,"__proto__":{"x":1}}]}`,
    'forbidden key "__proto__"', 'nested in an array element')
  refuses(t, `{"type":"command.result","commandId":"${COMMAND}","ok":false,"error":{"code":"X","message":"m","__proto__":{}}}`,
    'forbidden key "__proto__"', 'nested in an object')
  refuses(t, text(status(), '\\u005f_proto__', '{}'), 'forbidden key "__proto__"', 'spelled with an escape')
  refuses(t, text(ack(), 'constructor', '{"prototype":{"polluted":true}}'), 'forbidden key "constructor.prototype"')
  refuses(t, text(ack(), 'constr\\u0075ctor', '{"prot\\u006ftype":{}}'), 'forbidden key "constructor.prototype"', 'escaped')
  // Harmless alone: the strict schema then refuses the unknown property.
  refuses(t, text(ack(), 'constructor', '"x"'), '/constructor: unexpected property')
  accepts(t, status({ reason: '__proto__ constructor prototype' }), 'the words as values are fine')

  t.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype untouched')
})

t.test('encode round-trips', async (t) => {
  const messages: AgentMessage[] = [
    { type: 'hello', protocol: 1, agentVersion: '1.0.0', servers: [{ serverId: SERVER, status: 'CRASHED', seq: 0 }] },
    { type: 'status', serverId: SERVER, status: 'STARTING', seq: 1, at: AT, reason: 'START' },
    { type: 'command.ack', commandId: COMMAND },
    { type: 'command.result', commandId: COMMAND, ok: false, error: { code: 'TIMEOUT', message: 'no answer' } }
  ]
  for (const msg of messages) {
    t.strictSame(decodeAgentMessage(encode(msg)), { ok: true, msg }, msg.type)
    t.strictSame(decodeAgentMessage(Buffer.from(encode(msg))), { ok: true, msg }, `${msg.type} from a Buffer`)
  }
})
