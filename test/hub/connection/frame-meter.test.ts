// Frame types read in place (connection/frame-meter.ts): the same answer for a frame as a Buffer
// (how frames arrive) and as a string (how the hub sends them).
import t from 'tap'
import { createFrameMeter, frameType, startsWithAscii } from '../../../src/hub/connection/frame-meter.ts'

const both = (text: string) => [text, Buffer.from(text)]

t.test('startsWithAscii compares bytes in place', async t => {
  for (const f of both('{"type":"console","lines":["é"]}')) {
    t.ok(startsWithAscii(f, '{"type":"console"'))
    t.notOk(startsWithAscii(f, '{"type":"consolex'))
    t.notOk(startsWithAscii(f, '{"type":"stats"'))
  }
  for (const f of both('{"ty')) t.notOk(startsWithAscii(f, '{"type"'), 'shorter than the prefix')
  t.notOk(startsWithAscii(Buffer.from('{"typé'), '{"type'), 'a multi-byte character is not its ASCII look-alike')
})

t.test('frameType: the same for Buffers and strings', async t => {
  const cases: Array<[string, string]> = [
    ['{"type":"console","serverId":"x","lines":["a"]}', 'console'],
    ['{"type":"status.ack","serverId":"x","seq":1}', 'status.ack'],
    ['{ "type" : "hello" }', 'hello'],
    ['{"x":1,"type":"stats"}', 'stats'],
    ['{"type":"consoles"}', 'unknown'],
    ['{"type":"' + 'a'.repeat(60) + '"}', 'unknown'],
    ['{"type":"console', 'unknown'],
    ['{"type":"', 'unknown'],
    ['', 'unknown']
  ]
  for (const [text, type] of cases) for (const f of both(text)) t.equal(frameType(f), type, `${typeof f}: ${text.slice(0, 30)}`)
})

t.test('counts by direction and type', async t => {
  const m = createFrameMeter()
  m.count('in', Buffer.from('{"type":"console","lines":[]}'))
  m.count('in', '{"type":"console","lines":[]}')
  m.count('out', 'nonsense')
  t.same(m.entries(), [['in', 'console', 2], ['out', 'unknown', 1]])
})
