import t from 'tap'
import { CLOSE, COMMAND_ERROR, ERROR, shouldReconnect } from '../../src/agent-protocol/index.ts'

t.test('close codes match PROTOCOL.md', async (t) => {
  t.strictSame({ ...CLOSE }, {
    GOING_AWAY: 1001,
    POLICY: 1008,
    TOO_BIG: 1009,
    PROTOCOL_ERROR: 4400,
    UNAUTHORIZED: 4401,
    UNSUPPORTED_VERSION: 4406,
    TIMEOUT: 4408,
    REPLACED: 4409,
    RATE_LIMITED: 4429
  })
})

t.test('shouldReconnect: terminal codes', async (t) => {
  for (const code of [4401, 4406, 4409]) t.equal(shouldReconnect(code), false, String(code))
})

t.test('shouldReconnect: everything else reconnects', async (t) => {
  for (const code of [1001, 1008, 1009, 4400, 4408, 4429]) t.equal(shouldReconnect(code), true, String(code))
  // Codes this version does not name, including abnormal closure, must heal by reconnecting.
  for (const code of [1000, 1006, 1011, 4000, 4999]) t.equal(shouldReconnect(code), true, String(code))
})

t.test('error codes are their own names', async (t) => {
  t.strictSame(Object.keys(ERROR), [
    'BAD_FRAME', 'NOT_YOUR_SERVER', 'ILLEGAL_TRANSITION', 'RATE_LIMITED',
    'NOT_READY', 'ALREADY_HELLO', 'UNKNOWN_COMMAND', 'INTERNAL',
    'UNSTORABLE', 'FEATURE_UNSUPPORTED'
  ])
  for (const [key, value] of Object.entries(ERROR)) t.equal(value, key)
})

t.test('command.result error codes match PROTOCOL.md 1.1', async (t) => {
  t.strictSame(Object.keys(COMMAND_ERROR), [
    'ALREADY_RUNNING', 'NOT_RUNNING', 'NO_CONFIG', 'SPAWN_FAILED', 'INSTALL_FAILED',
    'INPUT_FAILED', 'FEATURE_UNSUPPORTED'
  ])
  for (const [key, value] of Object.entries(COMMAND_ERROR)) t.equal(value, key)
})
