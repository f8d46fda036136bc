/**
 * Live progress. On a terminal: a compact table redrawn in place every second (cursor up, clear to
 * the end), so a long run shows its current state without scrolling. Elsewhere (CI, a pipe, a
 * file): one plain line every few seconds, because escape codes in a log are noise.
 */
export interface ProgressRow {
  phase: string
  elapsedS: number
  connected: number
  agents: number
  transitionsPerS: number
  acksPerS: number
  commands: number
  /** undefined while no panel driver runs. */
  eventsPerS: number | undefined
  errors: number
  p99Ms: number
}

export interface Progress {
  update (row: ProgressRow): void
  /** A line that stays above the table (notes, warnings). */
  note (line: string): void
  done (): void
}

const fmt = (n: number) => n >= 10_000 ? `${(n / 1000).toFixed(1)}k` : String(Math.round(n))

export function renderTable (r: ProgressRow): string[] {
  const cells: Array<[string, string]> = [
    ['phase', r.phase],
    ['time', `${Math.round(r.elapsedS)} s`],
    ['agents', `${r.connected}/${r.agents}`],
    ['transitions/s', fmt(r.transitionsPerS)],
    ['acks/s', fmt(r.acksPerS)],
    ['ack p99', `${r.p99Ms.toFixed(1)} ms`],
    ['commands', fmt(r.commands)],
    ['events/s', r.eventsPerS === undefined ? 'n/a' : fmt(r.eventsPerS)],
    ['errors', fmt(r.errors)]
  ]
  const widths = cells.map(([h, v]) => Math.max(h.length, v.length))
  const line = (pick: 0 | 1) => cells.map((c, i) => c[pick].padStart(widths[i] as number)).join(' │ ')
  return [line(0), line(1)]
}

export function renderLine (r: ProgressRow): string {
  return `[${r.phase} ${Math.round(r.elapsedS)}s] agents ${r.connected}/${r.agents} · ${fmt(r.transitionsPerS)} transitions/s · ` +
    `${fmt(r.acksPerS)} acks/s · ack p99 ${r.p99Ms.toFixed(1)} ms · commands ${r.commands} · ` +
    `events/s ${r.eventsPerS === undefined ? 'n/a' : fmt(r.eventsPerS)} · errors ${r.errors}`
}

export function createProgress (out: { write (s: string): unknown, isTTY?: boolean }, plainEveryMs = 5000, now: () => number = Date.now): Progress {
  let drawn = 0
  let lastPlain = -Infinity
  const clear = () => { if (drawn > 0) out.write(`\x1b[${drawn}A\x1b[J`); drawn = 0 }
  return {
    update (row) {
      if (out.isTTY === true) {
        clear()
        const lines = renderTable(row)
        out.write(lines.join('\n') + '\n')
        drawn = lines.length
      } else if (now() - lastPlain >= plainEveryMs) {
        lastPlain = now()
        out.write(renderLine(row) + '\n')
      }
    },
    note (line) {
      if (out.isTTY === true) clear()
      out.write(line + '\n')
    },
    done () { drawn = 0 }
  }
}
