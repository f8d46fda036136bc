// decodeAgentMessage for the protocol 1.1 agent -> hub frames and rules: hello.features and
// configRevision, console, stats, server.config.ack, canonical ids, and an agent's `at`.
import t from 'tap'
import {
  MAX_CONSOLE_FRAME_TEXT_BYTES,
  MAX_CONSOLE_LINE_BYTES,
  decodeAgentMessage,
  encode,
  type AgentMessage
} from '../../src/agent-protocol/index.ts'

const SERVER = '6f1c3c1e-1d7b-4b7e-9c1a-0a1b2c3d4e5f'
const COMMAND = '0b6f6a0e-8f3e-4c47-9a53-2f1d6c7b8a90'
const AT = '2024-05-01T12:00:00.000Z'
const UPPER = SERVER.toUpperCase()

const hello = (o: object = {}) => ({ type: 'hello', protocol: 1, agentVersion: '2.0.0', servers: [], ...o })
const helloServer = (o: object) => hello({ servers: [{ serverId: SERVER, status: 'STOPPED', seq: 3, ...o }] })
const status = (o: object = {}) => ({ type: 'status', serverId: SERVER, status: 'RUNNING', seq: 8, at: AT, ...o })
const consoleFrame = (o: object = {}) => ({ type: 'console', serverId: SERVER, lines: ['Server started'], ...o })
const stats = (o: object = {}) => ({
  type: 'stats', serverId: SERVER, at: AT, cpuPercent: 12.5, memoryBytes: 104857600, uptimeMs: 60000, ...o
})
const configAck = (o: object = {}) => ({ type: 'server.config.ack', serverId: SERVER, revision: 3, ...o })

type Assert = Pick<typeof t, 'strictSame'>

function accepts (t: Assert, value: unknown, name: string) {
  t.strictSame(decodeAgentMessage(JSON.stringify(value)), { ok: true, msg: value }, name)
}

function refuses (t: Assert, value: unknown, reason: string, name = reason) {
  const r = decodeAgentMessage(typeof value === 'string' ? value : JSON.stringify(value))
  t.strictSame(r, { ok: false, error: { code: 'BAD_FRAME', reason } }, name)
}

t.test('hello.features', async (t) => {
  accepts(t, hello(), 'absent: a v1 agent')
  accepts(t, hello({ features: [] }), 'empty')
  accepts(t, hello({ features: ['provision', 'console', 'stats'] }), 'all three')
  accepts(t, hello({ features: ['teleport'] }), 'unknown names pass; the hub ignores them')
  accepts(t, hello({ features: Array(16).fill('x'.repeat(32)) }), '16 names of 32 characters')
  refuses(t, hello({ features: Array(17).fill('stats') }), '/features: must not have more than 16 items')
  refuses(t, hello({ features: ['x'.repeat(33)] }), '/features/0: must not have more than 32 characters')
  refuses(t, hello({ features: [''] }), '/features/0: must not have fewer than 1 characters')
  refuses(t, hello({ features: [7] }), '/features/0: must be string')
  refuses(t, hello({ features: 'stats' }), '/features: must be array')
  refuses(t, hello({ features: ['a\u0000'] }), '/features/0: must match format "storable-text"')
})

t.test('hello servers[].configRevision', async (t) => {
  accepts(t, helloServer({}), 'absent')
  accepts(t, helloServer({ configRevision: 1 }), '1')
  accepts(t, helloServer({ configRevision: 2_147_483_647 }), 'the largest PostgreSQL integer')
  refuses(t, helloServer({ configRevision: 0 }), '/servers/0/configRevision: must be >= 1')
  refuses(t, helloServer({ configRevision: 2_147_483_648 }), '/servers/0/configRevision: must be <= 2147483647')
  refuses(t, helloServer({ configRevision: 1.5 }), '/servers/0/configRevision: must be integer')
})

t.test('canonical ids: lower case only, in every agent frame', async (t) => {
  const reason = (path: string) => `${path}: must be a lower-case UUID`
  refuses(t, helloServer({ serverId: UPPER }), reason('/servers/0/serverId'), 'hello')
  refuses(t, status({ serverId: UPPER }), reason('/serverId'), 'status')
  refuses(t, { type: 'command.ack', commandId: COMMAND.toUpperCase() }, reason('/commandId'), 'command.ack')
  refuses(t, { type: 'command.result', commandId: COMMAND.toUpperCase(), ok: true }, reason('/commandId'), 'command.result')
  refuses(t, consoleFrame({ serverId: UPPER }), reason('/serverId'), 'console')
  refuses(t, stats({ serverId: UPPER }), reason('/serverId'), 'stats')
  refuses(t, configAck({ serverId: UPPER }), reason('/serverId'), 'server.config.ack')
  // One upper-case digit is enough.
  refuses(t, status({ serverId: SERVER.replace('f', 'F') }), reason('/serverId'), 'mixed case')
  refuses(t, status({ serverId: `{${SERVER}}` }), reason('/serverId'), 'braces')
  refuses(t, status({ serverId: SERVER.replaceAll('-', '') }), reason('/serverId'), 'no dashes')
})

t.test('an agent\'s at', async (t) => {
  accepts(t, status({ at: '2000-01-01T00:00:00Z' }), 'the earliest instant')
  accepts(t, status({ at: '2000-01-01T01:00:00+01:00' }), 'the earliest instant, with an offset')
  accepts(t, status({ at: '2024-05-01T12:00:00.123456Z' }), 'microseconds')
  accepts(t, status({ at: '2999-01-01T00:00:00Z' }), 'the future decodes (the hub clamps it)')
  const bad = '/at: must match format "agent-instant"'
  refuses(t, status({ at: '2016-12-31T23:59:60Z' }), bad, 'a leap second')
  refuses(t, status({ at: '2016-12-31T23:59:60.5Z' }), bad, 'a leap second with a fraction')
  refuses(t, status({ at: '1999-12-31T23:59:59.999Z' }), bad, 'before 2000')
  refuses(t, status({ at: '2000-01-01T00:30:00+01:00' }), bad, 'before 2000 by its offset')
  refuses(t, status({ at: '1970-01-01T00:00:00Z' }), bad, 'the epoch')
  refuses(t, status({ at: '2024-05-01T12:00:00Z[Europe/Paris]' }), bad, 'an RFC 9557 suffix')
  refuses(t, status({ at: '2024-02-30T12:00:00Z' }), bad, 'no such day')
  refuses(t, status({ at: '2024-05-01T24:00:00Z' }), bad, 'hour 24')
  refuses(t, status({ at: '2024-05-01T12:00:00' }), bad, 'no time zone')
  refuses(t, status({ at: '2024-05-01 12:00:00Z' }), bad, 'a space for T')
  refuses(t, status({ at: '+002024-05-01T12:00:00Z' }), bad, 'an expanded year')
  refuses(t, stats({ at: '2016-12-31T23:59:60Z' }), bad, 'stats: a leap second')
  refuses(t, stats({ at: '1999-01-01T00:00:00Z' }), bad, 'stats: before 2000')
})

t.test('console', async (t) => {
  accepts(t, consoleFrame(), 'one line')
  accepts(t, consoleFrame({ lines: ['', 'é 🎮 <b>not html</b>'] }), 'an empty line, any text')
  accepts(t, consoleFrame({ replay: true }), 'replay')
  accepts(t, consoleFrame({ lines: Array(100).fill('x') }), '100 lines')
  accepts(t, consoleFrame({ lines: ['x'.repeat(MAX_CONSOLE_LINE_BYTES)] }), 'a line of 4,096 bytes')
  accepts(t, consoleFrame({ lines: ['é'.repeat(MAX_CONSOLE_LINE_BYTES / 2)] }), 'a line of 4,096 bytes in 2,048 characters')
  accepts(t, consoleFrame({ lines: Array(4).fill('x'.repeat(4096)) }), '16,384 bytes of text')
  accepts(t, consoleFrame({ lines: Array(4).fill('é'.repeat(2048)) }), '16,384 bytes of text in 8,192 characters')

  refuses(t, consoleFrame({ lines: [] }), '/lines: must not have fewer than 1 items')
  refuses(t, consoleFrame({ lines: Array(101).fill('x') }), '/lines: must not have more than 100 items')
  refuses(t, consoleFrame({ lines: ['x'.repeat(4097)] }), '/lines/0: must not have more than 4096 characters')
  refuses(t, consoleFrame({ lines: ['ok', 'é'.repeat(2049)] }), '/lines/1: must match format "console-line"', 'a line of 4,098 bytes in 2,049 characters')
  refuses(t, consoleFrame({ lines: ['🎮'.repeat(1025)] }), '/lines/0: must match format "console-line"', '4,100 bytes of emoji')
  refuses(t, consoleFrame({ lines: [...Array(4).fill('x'.repeat(4096)), 'y'] }),
    `/lines: must not have more than ${MAX_CONSOLE_FRAME_TEXT_BYTES} bytes of text`, '16,385 bytes of text')
  refuses(t, consoleFrame({ lines: [...Array(4).fill('é'.repeat(2048)), 'y'] }),
    `/lines: must not have more than ${MAX_CONSOLE_FRAME_TEXT_BYTES} bytes of text`, '16,385 bytes of text in 8,193 characters')
  refuses(t, consoleFrame({ lines: ['a\nb'] }), '/lines/0: must match format "console-line"', 'LF')
  refuses(t, consoleFrame({ lines: ['a\rb'] }), '/lines/0: must match format "console-line"', 'CR')
  refuses(t, consoleFrame({ lines: ['a\u0000b'] }), '/lines/0: must match format "console-line"', 'NUL')
  refuses(t, consoleFrame({ lines: ['a\ud800b'] }), '/lines/0: must match format "console-line"', 'a lone surrogate')
  refuses(t, consoleFrame({ lines: [1] }), '/lines/0: must be string')
  refuses(t, consoleFrame({ replay: 'yes' }), '/replay: must be boolean')
  refuses(t, consoleFrame({ dropped: 3 }), '/dropped: unexpected property', 'dropped is hub -> panel only')
  refuses(t, { type: 'console', lines: ['x'] }, '/serverId: required')
})

t.test('stats', async (t) => {
  accepts(t, stats(), 'the required fields')
  accepts(t, stats({
    memoryLimitBytes: 2 ** 31, diskBytes: 0, networkRxBytes: 5, networkTxBytes: Number.MAX_SAFE_INTEGER, players: 12
  }), 'every optional field')
  accepts(t, stats({ cpuPercent: 0 }), 'idle')
  accepts(t, stats({ cpuPercent: 350.25 }), 'three and a half cores')
  refuses(t, stats({ cpuPercent: -1 }), '/cpuPercent: must be >= 0')
  refuses(t, stats({ cpuPercent: '5' }), '/cpuPercent: must be number')
  refuses(t, stats({ memoryBytes: -1 }), '/memoryBytes: must be >= 0')
  refuses(t, stats({ memoryBytes: 1.5 }), '/memoryBytes: must be integer')
  refuses(t, stats({ uptimeMs: 2 ** 60 }), '/uptimeMs: must be <= 9007199254740991')
  refuses(t, stats({ players: -2 }), '/players: must be >= 0')
  refuses(t, stats({ load: 1 }), '/load: unexpected property')
  for (const key of ['serverId', 'at', 'cpuPercent', 'memoryBytes', 'uptimeMs']) {
    const value: Record<string, unknown> = stats()
    delete value[key]
    refuses(t, value, `/${key}: required`)
  }
})

t.test('server.config.ack', async (t) => {
  accepts(t, configAck(), 'valid')
  refuses(t, configAck({ revision: 0 }), '/revision: must be >= 1')
  refuses(t, configAck({ revision: 2 ** 31 }), '/revision: must be <= 2147483647')
  refuses(t, { type: 'server.config.ack', serverId: SERVER }, '/revision: required')
  refuses(t, configAck({ name: 'x' }), '/name: unexpected property')
})

t.test('hub -> agent 1.1 types are not agent frames', async (t) => {
  refuses(t, { type: 'server.config', serverId: SERVER }, 'unknown type "server.config"')
  refuses(t, { type: 'server.removed', serverId: SERVER }, 'unknown type "server.removed"')
})

t.test('encode round-trips', async (t) => {
  const messages: AgentMessage[] = [
    { type: 'hello', protocol: 1, agentVersion: '2', servers: [{ serverId: SERVER, status: 'STOPPED', seq: 0, configRevision: 2 }], features: ['console'] },
    { type: 'console', serverId: SERVER, lines: ['a', 'b'], replay: true },
    { type: 'stats', serverId: SERVER, at: AT, cpuPercent: 1, memoryBytes: 2, uptimeMs: 3, players: 0 },
    { type: 'server.config.ack', serverId: SERVER, revision: 1 }
  ]
  for (const msg of messages) t.strictSame(decodeAgentMessage(encode(msg)), { ok: true, msg }, msg.type)
})
