// Live progress: a table redrawn in place on a terminal, plain periodic lines elsewhere.
import t from 'tap'
import { createProgress, type ProgressRow } from '../../agent-simulator/cli/progress.ts'

const row: ProgressRow = { phase: 'load', elapsedS: 3, connected: 10, agents: 12, transitionsPerS: 25_000, acksPerS: 24_000, commands: 0, eventsPerS: undefined, errors: 1, p99Ms: 2.5 }

t.test('on a TTY the table is redrawn in place', async (t) => {
  let out = ''
  const p = createProgress({ isTTY: true, write: (s: string) => { out += s } })
  p.update(row)
  p.update(row)
  t.ok(out.includes('\u001b[2A\u001b[J'), 'moves up over the previous table and clears it')
  t.match(out, /10\/12/)
  t.match(out, /25\.0k/)
  t.match(out, /n\/a/, 'events/s without a panel driver')
})

t.test('without a TTY one plain line every few seconds', async (t) => {
  let out = ''
  let now = 0
  const p = createProgress({ write: (s: string) => { out += s } }, 5000, () => now)
  p.update(row)
  now = 1000
  p.update(row)
  now = 5000
  p.update(row)
  t.equal(out.split('\n').filter(Boolean).length, 2)
  t.notOk(out.includes('\u001b'), 'no escape codes')
})
