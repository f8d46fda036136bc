import t from 'tap'
import {
  ACTION_STATES,
  ACTION_TYPES,
  AGENT_STATUSES,
  MAX_SEQ,
  PROTOCOL_VERSION,
  SERVER_STATUSES,
  isLegalTransition,
  type ServerStatus
} from '../../src/agent-protocol/index.ts'

// Copied verbatim from PROTOCOL.md ("Legal status transitions an agent may report"), and parsed
// here rather than taken from LEGAL_TRANSITIONS, so the test checks the code against the contract.
const PROTOCOL_TABLE =
  'INSTALLING→STOPPED|CRASHED, STOPPED→STARTING|INSTALLING, STARTING→RUNNING|STOPPING|CRASHED|STOPPED, ' +
  'RUNNING→STOPPING|CRASHED|STOPPED, STOPPING→STOPPED|CRASHED, CRASHED→STARTING|STOPPED|INSTALLING'

const legal = new Set<string>()
for (const entry of PROTOCOL_TABLE.split(', ')) {
  const [from, targets] = entry.split('→')
  for (const to of targets!.split('|')) legal.add(`${from}→${to}`)
}

t.test('enumerations match PROTOCOL.md', async (t) => {
  t.equal(PROTOCOL_VERSION, 1)
  t.equal(MAX_SEQ, Number.MAX_SAFE_INTEGER)
  t.strictSame([...SERVER_STATUSES], ['INSTALLING', 'STOPPED', 'STARTING', 'RUNNING', 'STOPPING', 'CRASHED', 'UNKNOWN'])
  t.strictSame([...AGENT_STATUSES], SERVER_STATUSES.filter((s) => s !== 'UNKNOWN'))
  t.strictSame([...ACTION_TYPES], ['START', 'STOP', 'RESTART', 'KILL', 'INSTALL', 'COMMAND'])
  t.strictSame([...ACTION_STATES], ['QUEUED', 'DISPATCHED', 'ACKED', 'SUCCEEDED', 'FAILED', 'EXPIRED', 'CANCELLED'])
})

t.test('the PROTOCOL.md table parsed as expected', async (t) => {
  t.equal(legal.size, 16)
})

t.test('isLegalTransition: every pair between known statuses', async (t) => {
  for (const from of SERVER_STATUSES) {
    if (from === 'UNKNOWN') continue
    for (const to of SERVER_STATUSES) {
      const expected = legal.has(`${from}→${to}`)
      t.equal(isLegalTransition(from, to), expected, `${from} -> ${to} is ${expected ? 'legal' : 'illegal'}`)
    }
  }
})

t.test('isLegalTransition: from UNKNOWN or nothing, any agent status', async (t) => {
  const froms: Array<ServerStatus | null> = ['UNKNOWN', null]
  for (const from of froms) {
    for (const to of SERVER_STATUSES) {
      t.equal(isLegalTransition(from, to), to !== 'UNKNOWN', `${from} -> ${to}`)
    }
  }
})

t.test('isLegalTransition: no same-status transition, nothing to UNKNOWN', async (t) => {
  for (const s of SERVER_STATUSES) {
    t.equal(isLegalTransition(s, s), false, `${s} -> ${s}`)
    t.equal(isLegalTransition(s, 'UNKNOWN'), false, `${s} -> UNKNOWN`)
  }
})
