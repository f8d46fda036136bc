// What simulated servers print and measure in realistic mode (agent-simulator/cli/sim-output.ts):
// lines that fit the agent protocol's console frame, a plausible stats sample.
import t from 'tap'
import { chatterLine, commandLine, statsSample, transitionLines } from '../../agent-simulator/cli/sim-output.ts'
import { AGENT_STATUSES } from '../../src/agent-protocol/index.ts'

const at = new Date('2026-12-03T12:34:56.789Z')

t.test('every status the agent reports has console lines, time-stamped, one line each', async t => {
  for (const status of AGENT_STATUSES) {
    const lines = transitionLines(status, 'why', at)
    t.ok(lines.length > 0, `${status} prints something`)
    for (const line of lines) t.match(line, /^\[12:34:56\] [^\n\r]+$/, `${status}: ${line}`)
  }
  t.match(transitionLines('RUNNING', 'started', at), [/Done!/])
  t.match(transitionLines('CRASHED', 'process exited', at), [/crashed: process exited/])
})

t.test('chatter about one tick in three; stats in range', async t => {
  t.equal(chatterLine(() => 0.5, at), undefined)
  t.match(chatterLine(() => 0.1, at), /^\[12:34:56\] \S/)
  const s = statsSample(() => 0.999, 1234)
  t.ok(s.cpuPercent >= 5 && s.cpuPercent <= 65)
  t.ok(s.memoryBytes >= 512 * 1048576 && s.memoryBytes <= 1536 * 1048576)
  t.equal(s.uptimeMs, 1234)
  t.equal(commandLine('say hi', at), '[12:34:56] > say hi')
})
