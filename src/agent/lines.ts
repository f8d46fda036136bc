// Turning a game's raw output bytes into protocol console lines (PROTOCOL.md 1.1, `console`): no CR
// or LF, at most MAX_LINE_BYTES of UTF-8 each (longer lines are split), invalid UTF-8 and NUL
// replaced with U+FFFD. Output without a newline is held back, but never more than a bounded amount.

export const MAX_LINE_BYTES = 4096
/** Bytes of an unterminated line kept before they are flushed as lines anyway. */
const MAX_PENDING_BYTES = 4 * MAX_LINE_BYTES

// Not fatal: invalid sequences become U+FFFD, as the protocol asks.
const decoder = new TextDecoder('utf-8')

/** One raw line (without its LF) as protocol lines. */
export function sanitizeLine (raw: Buffer): string[] {
  let end = raw.length
  if (end > 0 && raw[end - 1] === 0x0d) end-- // CRLF
  const text = decoder.decode(raw.subarray(0, end)).replaceAll('\u0000', '\uFFFD').replaceAll('\r', '')
  return splitByBytes(text, MAX_LINE_BYTES)
}

/** Splits text into pieces of at most `max` UTF-8 bytes, never inside a code point. */
export function splitByBytes (text: string, max: number): string[] {
  if (text.length * 3 <= max || Buffer.byteLength(text, 'utf8') <= max) return [text]
  const pieces: string[] = []
  let start = 0
  let bytes = 0
  for (let i = 0; i < text.length;) {
    const cp = text.codePointAt(i) as number
    const units = cp > 0xffff ? 2 : 1
    const size = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4
    if (bytes + size > max) {
      pieces.push(text.slice(start, i))
      start = i
      bytes = 0
    }
    bytes += size
    i += units
  }
  pieces.push(text.slice(start))
  return pieces
}

export interface LineSplitter {
  /** Feeds bytes; returns the complete lines they finish. */
  push (chunk: Buffer): string[]
  /** Whatever is pending, as lines (at the process's end). */
  flush (): string[]
}

export function createLineSplitter (): LineSplitter {
  let pending: Buffer = Buffer.alloc(0)
  return {
    push (chunk) {
      const data = pending.length === 0 ? chunk : Buffer.concat([pending, chunk])
      const lines: string[] = []
      let start = 0
      for (let nl = data.indexOf(0x0a); nl >= 0; nl = data.indexOf(0x0a, start)) {
        lines.push(...sanitizeLine(data.subarray(start, nl)))
        start = nl + 1
      }
      pending = Buffer.from(data.subarray(start))
      if (pending.length > MAX_PENDING_BYTES) {
        lines.push(...sanitizeLine(pending))
        pending = Buffer.alloc(0)
      }
      return lines
    },
    flush () {
      if (pending.length === 0) return []
      const lines = sanitizeLine(pending)
      pending = Buffer.alloc(0)
      return lines
    }
  }
}
