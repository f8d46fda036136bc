// Feature names, which feature each frame type needs, negotiation; canonical ids; agent instants.
import t from 'tap'
import {
  AGENT_MESSAGE_SCHEMAS,
  FEATURE,
  FEATURES,
  HUB_MESSAGE_SCHEMAS,
  MIN_AGENT_INSTANT_MS,
  featureOfAgentFrame,
  featureOfHubFrame,
  isCanonicalUuid,
  isFeature,
  negotiateFeatures,
  parseAgentInstant
} from '../../src/agent-protocol/index.ts'

t.test('feature names match PROTOCOL.md 1.1', async (t) => {
  t.strictSame([...FEATURES], ['provision', 'console', 'stats'])
  t.equal(FEATURE.PROVISION, 'provision')
  t.ok(isFeature('console'))
  t.notOk(isFeature('teleport'))
})

t.test('which feature a frame type needs', async (t) => {
  t.equal(featureOfAgentFrame('console'), 'console')
  t.equal(featureOfAgentFrame('stats'), 'stats')
  t.equal(featureOfAgentFrame('server.config.ack'), 'provision')
  for (const type of ['hello', 'status', 'command.ack', 'command.result']) t.equal(featureOfAgentFrame(type), null, `${type} is v1`)
  t.equal(featureOfHubFrame('server.config'), 'provision')
  t.equal(featureOfHubFrame('server.removed'), 'provision')
  for (const type of ['welcome', 'status.ack', 'command', 'error']) t.equal(featureOfHubFrame(type), null, `${type} is v1`)
  t.equal(featureOfAgentFrame('constructor'), null, 'no lookup through Object.prototype')
  // Every type the codec knows is either v1 or mapped; the maps name no unknown type.
  for (const type of ['console', 'stats', 'server.config.ack']) t.ok(Object.hasOwn(AGENT_MESSAGE_SCHEMAS, type), type)
  for (const type of ['server.config', 'server.removed']) t.ok(Object.hasOwn(HUB_MESSAGE_SCHEMAS, type), type)
})

t.test('negotiateFeatures', async (t) => {
  const all = [...FEATURES]
  t.equal(negotiateFeatures(undefined, all), undefined, 'a v1 hello gets no welcome.features')
  t.strictSame(negotiateFeatures([], all), [], 'an empty list stays a list')
  t.strictSame(negotiateFeatures(['stats', 'teleport', 'console', 'stats'], all), ['console', 'stats'], 'known, once each, in a stable order')
  t.strictSame(negotiateFeatures(['stats', 'console'], ['console']), ['console'], 'only what the hub enables')
})

t.test('isCanonicalUuid', async (t) => {
  t.ok(isCanonicalUuid('6f1c3c1e-1d7b-4b7e-9c1a-0a1b2c3d4e5f'))
  t.ok(isCanonicalUuid('00000000-0000-0000-0000-000000000000'))
  t.notOk(isCanonicalUuid('6F1C3C1E-1D7B-4B7E-9C1A-0A1B2C3D4E5F'), 'upper case')
  t.notOk(isCanonicalUuid('6f1c3c1e1d7b4b7e9c1a0a1b2c3d4e5f'), 'no dashes')
  t.notOk(isCanonicalUuid(' 6f1c3c1e-1d7b-4b7e-9c1a-0a1b2c3d4e5f'), 'padded')
  t.notOk(isCanonicalUuid('6f1c3c1e-1d7b-4b7e-9c1a-0a1b2c3d4e5f\n'), 'a trailing newline')
  t.notOk(isCanonicalUuid(42), 'not a string')
})

t.test('parseAgentInstant', async (t) => {
  t.equal(parseAgentInstant('2000-01-01T00:00:00Z'), MIN_AGENT_INSTANT_MS)
  t.equal(parseAgentInstant('2024-05-01T12:00:00.5+02:00'), Date.UTC(2024, 4, 1, 10, 0, 0, 500))
  t.equal(parseAgentInstant('2016-12-31T23:59:60Z'), null, 'a leap second')
  t.equal(parseAgentInstant('1999-12-31T23:59:59Z'), null, 'before 2000')
  t.equal(parseAgentInstant('2024-13-01T00:00:00Z'), null, 'month 13')
  t.equal(parseAgentInstant('soon'), null)
})
