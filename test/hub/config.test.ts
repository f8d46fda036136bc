import t from 'tap'
import { ConfigError, loadConfig } from '../../src/hub/config.ts'

t.test('defaults work on a laptop', async t => {
  const config = loadConfig({})
  t.match(config, { host: '127.0.0.1', port: 8080, dataDir: './.data', heartbeatMs: 10_000, env: 'development', sessionTtlS: 86_400, logLevel: 'info' })
  t.equal(config.databaseUrl, undefined, 'no DATABASE_URL: embedded PostgreSQL')
})

t.test('values are converted and empty strings count as unset', async t => {
  const config = loadConfig({ HUB_PORT: '0', HUB_HEARTBEAT_MS: '500', DATABASE_URL: 'postgres://u:p@db:5432/hub', LOG_LEVEL: 'debug', HUB_HOST: '' })
  t.equal(config.port, 0)
  t.equal(config.heartbeatMs, 500)
  t.equal(config.databaseUrl, 'postgres://u:p@db:5432/hub')
  t.equal(config.host, '127.0.0.1')
})

t.test('every bad key is reported at once, by name, secrets hidden', async t => {
  const err = t.throws(() => loadConfig({
    HUB_PORT: 'eighty', HUB_HEARTBEAT_MS: '-1', LOG_LEVEL: 'loud', NODE_ENV: 'staging', DATABASE_URL: 'mysql://root:secret@x/db', HUB_SESSION_TTL_S: '1.5'
  })) as ConfigError
  t.type(err, ConfigError)
  t.same(err.problems.map(p => p.split(':')[0]).sort(), ['DATABASE_URL', 'HUB_HEARTBEAT_MS', 'HUB_PORT', 'HUB_SESSION_TTL_S', 'LOG_LEVEL', 'NODE_ENV'])
  t.match(err.message, /HUB_PORT: must be integer \(got "eighty"\)/)
  t.notMatch(err.message, /secret/, 'a bad DATABASE_URL is not echoed')
})

t.test('production needs an admin password', async t => {
  const err = t.throws(() => loadConfig({ NODE_ENV: 'production' })) as ConfigError
  t.same(err.problems, ['HUB_ADMIN_PASSWORD: required when NODE_ENV=production'])
  t.equal(loadConfig({ NODE_ENV: 'production', HUB_ADMIN_PASSWORD: 'long-enough' }).env, 'production')
})

t.test('a malformed agent key set is a configuration error, not a start-up crash', async t => {
  for (const value of ['not json', '{}', '{"keys":[]}', '{"keys":[{"kid":1}]}']) {
    const err = t.throws(() => loadConfig({ HUB_AGENT_KEYS: value })) as ConfigError
    t.match(err.problems, [/^HUB_AGENT_KEYS: must be JSON/], value)
    t.notMatch(err.message, value === 'not json' ? /not json/ : /\0/, 'the secret is not echoed')
  }
})

t.test('HUB_LINK_URL: off, or ws:// or wss:// with a host and port only', async t => {
  for (const value of ['off', 'ws://10.0.0.5:8080', 'wss://hub-a.internal', 'ws://[fd00::5]:8080/']) {
    t.doesNotThrow(() => loadConfig({ HUB_LINK_URL: value }), value)
  }
  for (const value of ['http://10.0.0.5:8080', 'ws://10.0.0.5:8080/hub', 'ws://user:pw@10.0.0.5', '10.0.0.5:8080', 'ws://h:8080?x=1']) {
    const err = t.throws(() => loadConfig({ HUB_LINK_URL: value })) as ConfigError
    t.match(err.problems.join('\n'), /HUB_LINK_URL: must be off, or ws:\/\/ or wss:\/\//, value)
  }
})
