// What decoding refuses before any schema runs: size, encoding, JSON, nesting, non-objects.
import t from 'tap'
import { DEFAULT_MAX_BYTES, decodeAgentMessage, type DecodeLimits } from '../../src/agent-protocol/index.ts'

const ACK = '{"type":"command.ack","commandId":"0b6f6a0e-8f3e-4c47-9a53-2f1d6c7b8a90"}'

type Assert = Pick<typeof t, 'strictSame'>

function refuses (t: Assert, raw: string | Buffer, reason: string, name = reason, limits?: DecodeLimits) {
  t.strictSame(decodeAgentMessage(raw, limits), { ok: false, error: { code: 'BAD_FRAME', reason } }, name)
}

/** The ack padded with trailing spaces (valid JSON) to exactly `bytes` UTF-8 bytes. */
const padded = (bytes: number) => ACK + ' '.repeat(bytes - ACK.length)

t.test('frame size', async (t) => {
  t.equal(DEFAULT_MAX_BYTES, 64 * 1024)
  t.equal(decodeAgentMessage(padded(DEFAULT_MAX_BYTES)).ok, true, 'exactly the limit: string')
  t.equal(decodeAgentMessage(Buffer.from(padded(DEFAULT_MAX_BYTES))).ok, true, 'exactly the limit: Buffer')
  refuses(t, padded(DEFAULT_MAX_BYTES + 1), 'frame too large', 'one byte over: string')
  refuses(t, Buffer.from(padded(DEFAULT_MAX_BYTES + 1)), 'frame too large', 'one byte over: Buffer')
  // 30,000 characters but 90,000 bytes: the limit counts UTF-8 bytes, not string length.
  refuses(t, `{"type":"x","pad":"${'€'.repeat(30_000)}"}`, 'frame too large', 'multi-byte characters')
  refuses(t, ACK, 'frame too large', 'configured limit', { maxBytes: ACK.length - 1 })
  t.equal(decodeAgentMessage(padded(100_000), { maxBytes: 100_000 }).ok, true, 'configured limit, exactly')
})

t.test('encoding and JSON', async (t) => {
  t.equal(decodeAgentMessage(Buffer.from(ACK)).ok, true, 'valid UTF-8 Buffer')
  t.equal(decodeAgentMessage(new Uint8Array(Buffer.from(ACK))).ok, true, 'plain Uint8Array')
  refuses(t, Buffer.from([0x7b, 0xff, 0x7d]), 'invalid UTF-8', 'invalid byte')
  refuses(t, Buffer.from([0x22, 0xc0, 0xaf, 0x22]), 'invalid UTF-8', 'overlong encoding')
  refuses(t, Buffer.from([0x22, 0xed, 0xa0, 0x80, 0x22]), 'invalid UTF-8', 'encoded surrogate')
  refuses(t, Buffer.from([0x22, 0xe2, 0x82]), 'invalid UTF-8', 'truncated sequence')
  for (const text of ['', ' ', '{', '{"type":', '{"type":"command.ack",}', "{'type':'x'}", 'undefined', 'NaN', '\uFEFF' + ACK]) {
    refuses(t, text, 'invalid JSON', JSON.stringify(text))
  }
  refuses(t, Buffer.from('\uFEFF' + ACK), 'invalid JSON', 'BOM in a Buffer, as in a string')
})

t.test('not an object', async (t) => {
  for (const text of ['3', 'null', 'true', '"hello"', '[]', `[${ACK}]`]) {
    refuses(t, text, 'frame must be a JSON object', text.slice(0, 20))
  }
})

t.test('nesting depth', async (t) => {
  const big = { maxBytes: 4_000_000 }
  refuses(t, '['.repeat(10_000) + ']'.repeat(10_000), 'nesting too deep', 'depth 10,000', big)
  refuses(t, `{"type":"status","reason":${'['.repeat(10_000)}`, 'nesting too deep', 'unterminated deep frame', big)

  const start = process.hrtime.bigint()
  refuses(t, '['.repeat(1_000_000), 'nesting too deep', 'a million brackets', big)
  refuses(t, '{"a":'.repeat(500_000), 'nesting too deep', 'half a million objects', big)
  const ms = Number(process.hrtime.bigint() - start) / 1e6
  t.ok(ms < 500, `refused early (${ms.toFixed(1)} ms)`)

  refuses(t, '['.repeat(1_000_000), 'frame too large', 'the default size limit stops it first')

  const hello = '{"type":"hello","protocol":1,"agentVersion":"1","servers":[{"serverId":"6f1c3c1e-1d7b-4b7e-9c1a-0a1b2c3d4e5f","status":"RUNNING","seq":1}]}'
  t.equal(decodeAgentMessage(hello, { maxDepth: 3 }).ok, true, 'hello nests 3 levels')
  refuses(t, hello, 'nesting too deep', 'maxDepth 2', { maxDepth: 2 })

  // Brackets inside strings, escaped quotes included, are not nesting.
  const status = (reason: string) => JSON.stringify({
    type: 'status', serverId: '6f1c3c1e-1d7b-4b7e-9c1a-0a1b2c3d4e5f', status: 'RUNNING', seq: 1, at: '2024-05-01T12:00:00Z', reason
  })
  t.equal(decodeAgentMessage(status('[[[[{{{{'.repeat(20)), { maxDepth: 1 }).ok, true, 'brackets in a string')
  t.equal(decodeAgentMessage(status('"[[[[\\"{{{{\\'.repeat(10)), { maxDepth: 1 }).ok, true, 'escapes in a string')
})
