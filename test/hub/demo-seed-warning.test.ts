// The demo seed on an address others can reach is warned about at start.
import { Writable } from 'node:stream'
import pino from 'pino'
import t from 'tap'
import { loadConfig } from '../../src/hub/config.ts'
import { demoSeedWarning, isLoopback } from '../../src/hub/exposure.ts'
import { startHub } from '../../src/hub/start-hub.ts'
import { createTestDatabase } from '../helpers/database.ts'

t.test('loopback hosts', async t => {
  for (const host of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]', '::ffff:127.0.0.1']) t.ok(isLoopback(host), host)
  for (const host of ['0.0.0.0', '::', '10.0.0.5', 'hub.example.com', '::ffff:10.0.0.1']) t.notOk(isLoopback(host), host)
  t.equal(demoSeedWarning({ env: 'production', host: '0.0.0.0' }), undefined)
  t.equal(demoSeedWarning({ env: 'test', host: '0.0.0.0' }), undefined)
  t.equal(demoSeedWarning({ env: 'development', host: '127.0.0.1' }), undefined)
})

t.test('startHub warns when the development seed runs on a non-loopback HUB_HOST, and only then', async t => {
  for (const [host, warned] of [['0.0.0.0', true], ['127.0.0.1', false]] as const) {
    const lines: Array<{ level: number, msg: string }> = []
    const sink = new Writable({ write (chunk: Buffer, _enc, done) { for (const l of String(chunk).split('\n')) if (l !== '') lines.push(JSON.parse(l)); done() } })
    const { url } = await createTestDatabase(t)
    const config = { ...loadConfig({ NODE_ENV: 'development', HUB_HOST: host, HUB_PORT: '0', HUB_ADMIN_PASSWORD: 'admin-password' }), databaseUrl: url }
    const hub = await startHub(config, pino({ level: 'warn' }, sink))
    await hub.close()
    const warnings = lines.filter(l => l.level === 40 && /development seed .* not loopback/.test(l.msg))
    t.equal(warnings.length, warned ? 1 : 0, `${host}: ${warned ? 'one warning' : 'no warning'}`)
  }
})
