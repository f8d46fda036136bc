// decodeHubMessage: every hub -> agent message, as an agent decodes it.
import t from 'tap'
import { decodeHubMessage, encode, type HubMessage } from '../../src/agent-protocol/index.ts'

const NODE = '2b0d3f4e-5a6b-4c7d-8e9f-0a1b2c3d4e5f'
const SERVER = '6f1c3c1e-1d7b-4b7e-9c1a-0a1b2c3d4e5f'
const COMMAND = '0b6f6a0e-8f3e-4c47-9a53-2f1d6c7b8a90'
const AT = '2024-05-01T12:00:00.000Z'

const welcome = (o: object = {}) => ({ type: 'welcome', protocol: 1, nodeId: NODE, heartbeatMs: 10000, lastSeq: { [SERVER]: 4 }, ...o })
const statusAck = (o: object = {}) => ({ type: 'status.ack', serverId: SERVER, seq: 4, ...o })
const command = (o: object = {}) => ({
  type: 'command', commandId: COMMAND, serverId: SERVER, action: 'RESTART', issuedAt: AT, expiresAt: AT, ...o
})
const error = (o: object = {}) => ({ type: 'error', code: 'ILLEGAL_TRANSITION', message: 'RUNNING -> INSTALLING', ref: `${SERVER}:4`, ...o })

type Assert = Pick<typeof t, 'strictSame'>

function accepts (t: Assert, value: unknown, name: string) {
  t.strictSame(decodeHubMessage(JSON.stringify(value)), { ok: true, msg: value }, name)
}

function refuses (t: Assert, value: unknown, reason: string, name = reason) {
  const text = typeof value === 'string' ? value : JSON.stringify(value)
  t.strictSame(decodeHubMessage(text), { ok: false, error: { code: 'BAD_FRAME', reason } }, name)
}

t.test('welcome', async (t) => {
  accepts(t, welcome(), 'valid')
  accepts(t, welcome({ lastSeq: {} }), 'no servers')
  accepts(t, welcome({ protocol: 2 }), 'another protocol decodes; the agent decides')
  refuses(t, welcome({ heartbeatMs: 0 }), '/heartbeatMs: must be >= 1')
  refuses(t, welcome({ nodeId: 'node-1' }), '/nodeId: must be a lower-case UUID')
  refuses(t, welcome({ lastSeq: { [SERVER]: -1 } }), `/lastSeq/${SERVER}: must be >= 0`)
  refuses(t, welcome({ lastSeq: { [SERVER]: '4' } }), `/lastSeq/${SERVER}: must be integer`)
  refuses(t, welcome({ lastSeq: [] }), '/lastSeq: must be object')
})

t.test('status.ack', async (t) => {
  accepts(t, statusAck(), 'valid')
  refuses(t, statusAck({ seq: 0 }), '/seq: must be >= 1')
  refuses(t, statusAck({ seq: 2 ** 60 }), '/seq: must be <= 9007199254740991')
  refuses(t, { type: 'status.ack', seq: 4 }, '/serverId: required')
})

t.test('command', async (t) => {
  for (const action of ['START', 'STOP', 'RESTART', 'KILL']) accepts(t, command({ action }), action)
  refuses(t, command({ action: 'REBOOT' }), '/action: must be one of START, STOP, RESTART, KILL, INSTALL, COMMAND')
  refuses(t, command({ expiresAt: 'soon' }), '/expiresAt: must match format "date-time"')
  refuses(t, command({ commandId: 12 }), '/commandId: must be string')
})

t.test('error', async (t) => {
  accepts(t, error(), 'with ref')
  accepts(t, { type: 'error', code: 'BAD_FRAME', message: '/seq: must be integer' }, 'without ref')
  // A code added to the hub later must not make older agents refuse the frame.
  accepts(t, error({ code: 'SOME_FUTURE_CODE' }), 'unknown code tolerated')
  refuses(t, { type: 'error', message: 'x' }, '/code: required')
  refuses(t, error({ ref: 7 }), '/ref: must be string')
})

t.test('hub messages tolerate added fields', async (t) => {
  accepts(t, welcome({ region: 'eu-1', limits: { frames: 500 } }), 'welcome')
  accepts(t, statusAck({ persistedAt: AT }), 'status.ack')
  accepts(t, command({ args: ['--fast'] }), 'command')
  accepts(t, error({ retryAfterMs: 1000 }), 'error')
})

t.test('refusals shared with the hub side', async (t) => {
  refuses(t, { type: 'hello' }, 'unknown type "hello"', 'an agent -> hub type from the hub')
  refuses(t, JSON.stringify(welcome()).replace(/}$/, ',"__proto__":{"x":1}}'), 'forbidden key "__proto__"')
  refuses(t, JSON.stringify(welcome()).replace(/}$/, ',"constructor":{"prototype":{}}}'), 'forbidden key "constructor.prototype"')
  refuses(t, '[]', 'frame must be a JSON object')
  refuses(t, 'nope', 'invalid JSON')
  t.strictSame(decodeHubMessage('{"a":1}', { maxBytes: 4 }), { ok: false, error: { code: 'BAD_FRAME', reason: 'frame too large' } })
})

t.test('encode round-trips', async (t) => {
  const messages: HubMessage[] = [
    { type: 'welcome', protocol: 1, nodeId: NODE, heartbeatMs: 10000, lastSeq: { [SERVER]: 0 } },
    { type: 'status.ack', serverId: SERVER, seq: 1 },
    { type: 'command', commandId: COMMAND, serverId: SERVER, action: 'KILL', issuedAt: AT, expiresAt: AT },
    { type: 'error', code: 'NOT_YOUR_SERVER', message: 'not on this node', ref: `${SERVER}:1` }
  ]
  for (const msg of messages) t.strictSame(decodeHubMessage(encode(msg)), { ok: true, msg }, msg.type)
})
