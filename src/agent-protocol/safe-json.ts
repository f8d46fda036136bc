/**
 * JSON.parse for untrusted frames: bounded nesting and no prototype-poisoning keys.
 *
 * Why a pre-scan: V8's JSON.parse happily builds a million nested arrays from a frame of a million
 * '[' (a sizeable allocation), and then every recursive consumer of the value (schema validators,
 * the key walk below, JSON.stringify in a log line) overflows the stack. Counting bracket depth
 * first, in one linear pass over char codes, refuses such frames in O(n) without allocating, and
 * guarantees that whatever handles the value later recurses at most `maxDepth` levels.
 *
 * Why the key check: JSON.parse creates `__proto__` as an ordinary own property, which is harmless
 * until someone copies the object with Object.assign or a naive merge, which then swaps the
 * target's prototype. Likewise `{"constructor": {"prototype": ...}}` poisons code that walks
 * `obj.constructor.prototype`. We refuse both, as secure-json-parse does.
 *
 * Why it stays fast: the walk over the parsed value runs only when the text could hold such a key,
 * that is when it contains `__proto__` or `constructor` literally, or any `\u` escape (which could
 * spell either key without its letters appearing in the text). Frames from well-behaved agents
 * have none, so the common case is a few native substring searches and JSON.parse (the char-code
 * loop runs only for a text with more brackets than `maxDepth`, which could nest too deep).
 */

export type SafeParseResult =
  | { ok: true, value: unknown }
  | { ok: false, reason: string }

export interface SafeParseOptions {
  /** Deepest nesting of arrays and objects accepted; `{}` is depth 1, a bare `3` depth 0. */
  maxDepth: number
}

const QUOTE = 0x22 // "
const BACKSLASH = 0x5c // \
const LOWER_U = 0x75 // u
const OPEN_BRACKET = 0x5b // [
const CLOSE_BRACKET = 0x5d // ]
const OPEN_BRACE = 0x7b // {
const CLOSE_BRACE = 0x7d // }

// Results of scan(); plain numbers so the hot loop allocates nothing.
const SCAN_OK = 0
const SCAN_HAS_UNICODE_ESCAPE = 1
const SCAN_TOO_DEEP = 2

/**
 * One pass over the text: the deepest bracket nesting outside strings, and whether a string holds a
 * `\u` escape. Malformed text (unbalanced brackets, an unterminated string) is left to JSON.parse.
 */
function scan (text: string, maxDepth: number): number {
  let depth = 0
  let inString = false
  let result = SCAN_OK
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === BACKSLASH) {
        if (text.charCodeAt(i + 1) === LOWER_U) result = SCAN_HAS_UNICODE_ESCAPE
        i++ // the escaped character cannot end the string
      } else if (c === QUOTE) {
        inString = false
      }
    } else if (c === QUOTE) {
      inString = true
    } else if (c === OPEN_BRACKET || c === OPEN_BRACE) {
      if (++depth > maxDepth) return SCAN_TOO_DEEP
    } else if (c === CLOSE_BRACKET || c === CLOSE_BRACE) {
      depth--
    }
  }
  return result
}

/**
 * Whether the text holds at most `maxDepth` brackets in all, strings included: then it cannot nest
 * deeper than that, and scan() is not needed. Counted with native searches, which stop at the first
 * bracket over the limit: a console line or a status has two or three brackets, a `hello` with many
 * servers goes on to scan().
 */
function fewBrackets (text: string, maxDepth: number): boolean {
  let n = 0
  for (let i = text.indexOf('['); i !== -1; i = text.indexOf('[', i + 1)) if (++n > maxDepth) return false
  for (let i = text.indexOf('{'); i !== -1; i = text.indexOf('{', i + 1)) if (++n > maxDepth) return false
  return true
}

/** The first forbidden key in `value`, or null. Recursion is bounded by the depth pre-scan. */
function findForbiddenKey (value: unknown): string | null {
  if (typeof value !== 'object' || value === null) return null
  if (Array.isArray(value)) {
    for (const item of value) {
      const found = findForbiddenKey(item)
      if (found !== null) return found
    }
    return null
  }
  if (Object.hasOwn(value, '__proto__')) return '__proto__'
  if (Object.hasOwn(value, 'constructor')) {
    const ctor: unknown = (value as { constructor: unknown }).constructor
    if (typeof ctor === 'object' && ctor !== null && Object.hasOwn(ctor, 'prototype')) {
      return 'constructor.prototype'
    }
  }
  for (const key of Object.keys(value)) {
    const found = findForbiddenKey((value as Record<string, unknown>)[key])
    if (found !== null) return found
  }
  return null
}

/**
 * Parses untrusted JSON text. Never throws: failures come back as a reason fit to send to the peer
 * ("nesting too deep", "invalid JSON", "forbidden key \"__proto__\"").
 */
export function safeParse (text: string, opts: SafeParseOptions): SafeParseResult {
  // Without the scan, any `\u` in the text counts as an escape (a string holding a backslash and
  // a `u` too): a superset, which only costs the key walk.
  const scanned = fewBrackets(text, opts.maxDepth)
    ? (text.includes('\\u') ? SCAN_HAS_UNICODE_ESCAPE : SCAN_OK)
    : scan(text, opts.maxDepth)
  if (scanned === SCAN_TOO_DEEP) return { ok: false, reason: 'nesting too deep' }

  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    // JSON.parse's own message quotes the input; keep the peer's bytes out of our reply and logs.
    return { ok: false, reason: 'invalid JSON' }
  }

  if (scanned === SCAN_HAS_UNICODE_ESCAPE || text.includes('__proto__') || text.includes('constructor')) {
    const key = findForbiddenKey(value)
    if (key !== null) return { ok: false, reason: `forbidden key "${key}"` }
  }
  return { ok: true, value }
}
