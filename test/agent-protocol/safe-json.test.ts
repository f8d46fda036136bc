import t from 'tap'
import { safeParse } from '../../src/agent-protocol/index.ts'

const opts = { maxDepth: 4 }

t.test('parses ordinary JSON', async (t) => {
  t.strictSame(safeParse('3', opts), { ok: true, value: 3 })
  t.strictSame(safeParse('null', opts), { ok: true, value: null })
  t.strictSame(safeParse('"x"', opts), { ok: true, value: 'x' })
  t.strictSame(safeParse('{"a":[1,{"b":[]}]}', opts), { ok: true, value: { a: [1, { b: [] }] } })
  t.strictSame(safeParse('{"s":"\\u0041\\n"}', opts), { ok: true, value: { s: 'A\n' } }, 'escapes without forbidden keys')
})

t.test('depth', async (t) => {
  t.strictSame(safeParse('[[[[]]]]', opts), { ok: true, value: [[[[]]]] }, 'exactly maxDepth')
  t.strictSame(safeParse('[[[[[]]]]]', opts), { ok: false, reason: 'nesting too deep' }, 'one deeper')
  t.strictSame(safeParse('[{"a":[{"b":{}}]}]', opts), { ok: false, reason: 'nesting too deep' }, 'objects and arrays count alike')
  t.strictSame(safeParse('[[]][[]][[]]', { maxDepth: 2 }), { ok: false, reason: 'invalid JSON' }, 'siblings do not add up')
  t.strictSame(safeParse('["[[[[[[", "\\"[[[[[["]', { maxDepth: 1 }), { ok: true, value: ['[[[[[[', '"[[[[[['] }, 'strings are skipped')
  t.strictSame(safeParse('3', { maxDepth: 0 }), { ok: true, value: 3 }, 'a scalar is depth 0')
  t.strictSame(safeParse('{}', { maxDepth: 0 }), { ok: false, reason: 'nesting too deep' })
  // Few brackets in all (counted without the scan) or more than maxDepth (scanned): the same answers.
  t.strictSame(safeParse('[[[[]]]', opts), { ok: false, reason: 'invalid JSON' }, 'unbalanced, few brackets')
  t.strictSame(safeParse('{"a":"[[[[[[[["}', opts), { ok: true, value: { a: '[[[[[[[[' } }, 'many brackets, all in a string')
  t.strictSame(safeParse('[[[["{{{{"]]]]', opts), { ok: true, value: [[[['{{{{']]]] }, 'at the limit, more brackets in a string')
  t.strictSame(safeParse('[[[[["{"]]]]]', opts), { ok: false, reason: 'nesting too deep' }, 'over the limit, with one in a string')

  const start = process.hrtime.bigint()
  t.strictSame(safeParse('['.repeat(1_000_000), { maxDepth: 64 }), { ok: false, reason: 'nesting too deep' })
  t.strictSame(safeParse('['.repeat(10_000) + ']'.repeat(10_000), { maxDepth: 64 }), { ok: false, reason: 'nesting too deep' })
  const ms = Number(process.hrtime.bigint() - start) / 1e6
  t.ok(ms < 500, `refused early (${ms.toFixed(1)} ms)`)
})

t.test('invalid JSON never throws', async (t) => {
  for (const text of ['', '{', '}', ']]]]', '"unterminated', '"ends in a backslash\\', '{"a":1,}', '\u0000']) {
    t.strictSame(safeParse(text, opts), { ok: false, reason: 'invalid JSON' }, JSON.stringify(text))
  }
})

t.test('__proto__', async (t) => {
  const bad = { ok: false, reason: 'forbidden key "__proto__"' }
  t.strictSame(safeParse('{"__proto__":{"polluted":1}}', opts), bad, 'top level')
  t.strictSame(safeParse('{"a":{"__proto__":null}}', opts), bad, 'nested')
  t.strictSame(safeParse('[1,[{"__proto__":[]}]]', opts), bad, 'in an array')
  t.strictSame(safeParse('{"\\u005f\\u005fproto\\u005f\\u005f":{}}', opts), bad, 'fully escaped')
  t.strictSame(safeParse('{"__pro\\u0074o__":{}}', opts), bad, 'partly escaped')
  t.strictSame(safeParse('{"a":"\\\\u005f"}', opts), { ok: true, value: { a: '\\u005f' } }, 'a backslash and a u, not an escape: walked, clean')
  t.strictSame(safeParse('[[[["{"]]],{"\\u005f_proto__":1}]', { maxDepth: 4 }), bad, 'escaped, with more brackets than maxDepth (scanned)')
  t.strictSame(safeParse('{"a":"__proto__"}', opts), { ok: true, value: { a: '__proto__' } }, 'as a value')
  t.strictSame(safeParse('[["__proto__"],{"a":1},{"b":{"__proto__":0}}]', opts), bad, 'after clean siblings')
  t.strictSame(safeParse('[["__proto__"],{"a":[]}]', opts), { ok: true, value: [['__proto__'], { a: [] }] }, 'walked, clean')
  t.strictSame(safeParse('{"__proto":1,"proto__":2}', opts), { ok: true, value: { __proto: 1, proto__: 2 } }, 'near misses')
  t.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype untouched')
})

t.test('constructor.prototype', async (t) => {
  const bad = { ok: false, reason: 'forbidden key "constructor.prototype"' }
  t.strictSame(safeParse('{"constructor":{"prototype":{"polluted":1}}}', opts), bad, 'top level')
  t.strictSame(safeParse('[{"x":{"constructor":{"prototype":null}}}]', opts), bad, 'nested')
  t.strictSame(safeParse('{"\\u0063onstructor":{"prototype":{}}}', opts), bad, 'escaped')
  // Compared as text: tap's strictSame treats an own `constructor` property as the object's class.
  const text = (r: ReturnType<typeof safeParse>) => r.ok ? JSON.stringify(r.value) : r.reason
  t.equal(text(safeParse('{"constructor":"Object"}', opts)), '{"constructor":"Object"}', 'constructor alone')
  t.equal(text(safeParse('{"constructor":{"name":"x"}}', opts)), '{"constructor":{"name":"x"}}', 'without prototype')
  t.strictSame(safeParse('{"prototype":{}}', opts), { ok: true, value: { prototype: {} } }, 'prototype alone')
})
