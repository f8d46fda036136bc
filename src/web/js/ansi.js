// ANSI SGR colour codes to text segments with classes; anything else is dropped. The output
// is rendered as text nodes, never as HTML.
const SGR = /\x1b\[([0-9;]*)m/g // eslint-disable-line no-control-regex
const OTHER = /\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Za-z0-9]|[\x00-\x08\x0b-\x1f\x7f]/g // eslint-disable-line no-control-regex

export function parseAnsi (line) {
  const out = []
  let fg = null
  let bold = false
  let last = 0
  const push = text => {
    const clean = text.replace(OTHER, '')
    if (clean !== '') out.push({ text: clean, cls: [fg === null ? '' : `ansi-${fg}`, bold ? 'ansi-bold' : ''].join(' ').trim() })
  }
  for (const m of line.matchAll(SGR)) {
    push(line.slice(last, m.index))
    last = m.index + m[0].length
    for (const code of (m[1] === '' ? '0' : m[1]).split(';').map(Number)) {
      if (code === 0) { fg = null; bold = false } else if (code === 1) bold = true
      else if (code === 22) bold = false
      else if (code === 39) fg = null
      else if ((code >= 30 && code <= 37) || (code >= 90 && code <= 97)) fg = code
    }
  }
  push(line.slice(last))
  return out
}
