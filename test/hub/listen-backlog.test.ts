// The listen backlog defaults to the kernel's cap, not Node's 511: read back from the kernel (ss).
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import t from 'tap'
import { loadConfig } from '../../src/hub/config.ts'
import { FALLBACK_BACKLOG, listenBacklog } from '../../src/hub/listen-backlog.ts'
import { startHub } from '../../src/hub/start-hub.ts'
import { createTestDatabase } from '../helpers/database.ts'
import { readFile } from 'node:fs/promises'

const run = promisify(execFile)

/** The backlog of the listening socket on `port`, as the kernel reports it (Send-Q of a LISTEN socket). */
async function kernelBacklog (port: number): Promise<number> {
  const { stdout } = await run('ss', ['-ltnH', `sport = :${port}`])
  const fields = stdout.trim().split(/\s+/)
  return Number(fields[2])
}

t.test('the default is the kernel cap, else 511; a configured value wins', async t => {
  t.equal(await listenBacklog(undefined, '/nonexistent/somaxconn'), FALLBACK_BACKLOG)
  t.equal(await listenBacklog(100, '/nonexistent/somaxconn'), 100)
  t.equal(loadConfig({ HUB_LISTEN_BACKLOG: '2048' }).listenBacklog, 2048)
  t.throws(() => loadConfig({ HUB_LISTEN_BACKLOG: '0' }), /HUB_LISTEN_BACKLOG/)
})

t.test('the hub listens with the kernel cap by default, and with HUB_LISTEN_BACKLOG when set', async t => {
  const somaxconn = Number((await readFile('/proc/sys/net/core/somaxconn', 'utf8')).trim())
  for (const [env, expected] of [[{}, somaxconn], [{ HUB_LISTEN_BACKLOG: '300' }, 300]] as const) {
    const { url } = await createTestDatabase(t)
    const config = { ...loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', HUB_PORT: '0', HUB_ADMIN_PASSWORD: 'admin-password', ...env }), databaseUrl: url }
    const hub = await startHub(config)
    try {
      t.equal(await kernelBacklog(Number(new URL(hub.url).port)), expected, `backlog ${expected} (${JSON.stringify(env)})`)
    } finally {
      await hub.close()
    }
  }
})
