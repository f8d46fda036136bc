// decodeHubMessage for the protocol 1.1 hub -> agent frames, as the agent daemon decodes them:
// welcome.features, server.config, server.removed, command.input, the new action types.
import t from 'tap'
import { decodeHubMessage, encode, type HubMessage } from '../../src/agent-protocol/index.ts'

const NODE = '2b0d3f4e-5a6b-4c7d-8e9f-0a1b2c3d4e5f'
const SERVER = '6f1c3c1e-1d7b-4b7e-9c1a-0a1b2c3d4e5f'
const COMMAND = '0b6f6a0e-8f3e-4c47-9a53-2f1d6c7b8a90'
const AT = '2024-05-01T12:00:00.000Z'

const welcome = (o: object = {}) => ({ type: 'welcome', protocol: 1, nodeId: NODE, heartbeatMs: 10000, lastSeq: {}, ...o })
const command = (o: object = {}) => ({
  type: 'command', commandId: COMMAND, serverId: SERVER, action: 'COMMAND', issuedAt: AT, expiresAt: AT, input: 'say hi', ...o
})
const config = (o: object = {}) => ({
  type: 'server.config',
  serverId: SERVER,
  revision: 4,
  name: 'survival',
  port: 25565,
  startup: "java -Xmx'1024'M -jar 'server.jar'",
  stop: { type: 'command', value: 'stop', graceS: 30 },
  environment: { SERVER_PORT: '25565', SERVER_MEMORY: '1024', MOTD: 'hello world' },
  autoRestart: { enabled: false, maxRestarts: 3, windowS: 300 },
  ...o
})

type Assert = Pick<typeof t, 'strictSame'>

function accepts (t: Assert, value: unknown, name: string) {
  t.strictSame(decodeHubMessage(JSON.stringify(value)), { ok: true, msg: value }, name)
}

function refuses (t: Assert, value: unknown, reason: string, name = reason) {
  t.strictSame(decodeHubMessage(JSON.stringify(value)), { ok: false, error: { code: 'BAD_FRAME', reason } }, name)
}

t.test('welcome.features', async (t) => {
  accepts(t, welcome(), 'absent (the hello had none)')
  accepts(t, welcome({ features: [] }), 'empty intersection')
  accepts(t, welcome({ features: ['provision', 'stats'] }), 'negotiated')
  refuses(t, welcome({ features: 'stats' }), '/features: must be array')
})

t.test('command: INSTALL and COMMAND', async (t) => {
  accepts(t, command(), 'COMMAND with input')
  const { input: _input, ...install } = command({ action: 'INSTALL' })
  accepts(t, install, 'INSTALL')
  accepts(t, command({ input: 'x'.repeat(1024) }), 'input of 1,024 characters')
  refuses(t, command({ input: 'x'.repeat(1025) }), '/input: must not have more than 1024 characters')
  refuses(t, command({ input: '' }), '/input: must not have fewer than 1 characters')
  refuses(t, command({ input: 'stop\nrm -rf' }), '/input: must match format "storable-line"', 'LF')
  refuses(t, command({ input: 'stop\r' }), '/input: must match format "storable-line"', 'CR')
  refuses(t, command({ serverId: SERVER.toUpperCase() }), '/serverId: must be a lower-case UUID')
})

t.test('server.config', async (t) => {
  accepts(t, config(), 'a command stop')
  accepts(t, config({ stop: { type: 'signal', value: 'SIGINT' } }), 'a signal stop without grace')
  for (const value of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2']) {
    accepts(t, config({ stop: { type: 'signal', value } }), value)
  }
  accepts(t, config({ doneRegex: 'Done \\(\\d+', install: '#!/bin/sh\necho hi\n', memoryLimitMb: 1024 }), 'every optional field')
  accepts(t, config({ environment: {} }), 'no environment')
  accepts(t, config({ autoRestart: { enabled: true, maxRestarts: 0, windowS: 1 } }), 'auto restart')
  accepts(t, config({ region: 'eu' }), 'an added field is tolerated')

  refuses(t, config({ stop: { type: 'signal', value: 'SIGKILL' } }),
    '/stop/value: must be one of SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2')
  refuses(t, config({ stop: { type: 'exec', value: 'x' } }), '/stop/type: must be one of command, signal')
  refuses(t, config({ stop: { type: 'command', value: 'stop\nnow' } }), '/stop/value: must match format "storable-line"')
  refuses(t, config({ stop: { type: 'command', value: 'x'.repeat(257) } }), '/stop/value: must not have more than 256 characters')
  refuses(t, config({ stop: { type: 'command', value: 'stop', graceS: 0 } }), '/stop/graceS: must be >= 1')
  refuses(t, config({ stop: { type: 'command', value: 'stop', graceS: 3601 } }), '/stop/graceS: must be <= 3600')
  refuses(t, config({ environment: { path: '/bin' } }), '/environment: names must match ^[A-Z][A-Z0-9_]{0,63}$')
  refuses(t, config({ environment: { MOTD: 'a\u0000b' } }), '/environment/MOTD: must match format "storable-text"')
  refuses(t, config({ environment: { MOTD: 5 } }), '/environment/MOTD: must be string')
  refuses(t, config({ revision: 0 }), '/revision: must be >= 1')
  refuses(t, config({ port: 65536 }), '/port: must be <= 65535')
  refuses(t, config({ memoryLimitMb: 0 }), '/memoryLimitMb: must be >= 1')
  refuses(t, config({ autoRestart: { enabled: true, maxRestarts: 3 } }), '/autoRestart/windowS: required')
  refuses(t, config({ serverId: SERVER.toUpperCase() }), '/serverId: must be a lower-case UUID')
  refuses(t, { type: 'server.config', serverId: SERVER }, '/revision: required')
})

t.test('server.removed', async (t) => {
  accepts(t, { type: 'server.removed', serverId: SERVER }, 'valid')
  refuses(t, { type: 'server.removed', serverId: SERVER.toUpperCase() }, '/serverId: must be a lower-case UUID')
  refuses(t, { type: 'server.removed' }, '/serverId: required')
})

t.test('encode round-trips', async (t) => {
  const messages: HubMessage[] = [
    { type: 'welcome', protocol: 1, nodeId: NODE, heartbeatMs: 10000, lastSeq: {}, features: ['console'] },
    { type: 'command', commandId: COMMAND, serverId: SERVER, action: 'COMMAND', issuedAt: AT, expiresAt: AT, input: 'list' },
    config() as HubMessage,
    { type: 'server.removed', serverId: SERVER }
  ]
  for (const msg of messages) t.strictSame(decodeHubMessage(encode(msg)), { ok: true, msg }, msg.type)
})
