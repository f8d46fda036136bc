// npm run screenshots: starts a throwaway development hub (embedded PostgreSQL in a temp folder,
// demo node and servers), connects a bare agent so statuses move, and photographs every screen of
// the panel in the system Chromium into docs/screenshots/.
import { chmod, mkdtemp, mkdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { once } from 'node:events'
import WebSocket from 'ws'
import pino from 'pino'
import { chromium } from 'playwright-core'
import { loadConfig } from '../src/hub/config.ts'
import { startHub } from '../src/hub/start-hub.ts'
import { findChromium } from '../test/web/browser.ts'

const OUT = new URL('../docs/screenshots/', import.meta.url).pathname
const PASSWORD = 'screenshot-admin'
const executablePath = findChromium()
if (executablePath === undefined) {
  process.stderr.write('screenshots: no Chromium found (/usr/bin/chromium or HUB_CHROMIUM_PATH)\n')
  process.exit(1)
}

const dataDir = await mkdtemp(join(tmpdir(), 'hub-shots-'))
// The embedded PostgreSQL may run as another user (root runs it as postgres): it must enter the folder.
await chmod(dataDir, 0o755)
const config = loadConfig({ HUB_DATA_DIR: dataDir, HUB_PORT: '0', HUB_ADMIN_PASSWORD: PASSWORD, NODE_ENV: 'development', LOG_LEVEL: 'warn' })
const hub = await startHub(config, pino({ level: 'warn' }))
const browser = await chromium.launch({ executablePath, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] })
try {
  await mkdir(OUT, { recursive: true })
  const api = async (method: string, path: string, token?: string, body?: unknown) => {
    const res = await fetch(hub.url + path, { method, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined })
    return await res.json() as any
  }
  const token = (await api('POST', '/api/auth/login', undefined, { username: 'admin', password: PASSWORD })).token as string
  const nodes = (await api('GET', '/api/nodes', token)).items as Array<{ id: string, name: string }>
  const demo = nodes[0] as { id: string }
  const servers = (await api('GET', `/api/servers?nodeId=${demo.id}`, token)).items as Array<{ id: string }>
  const agentToken = (await api('POST', `/api/nodes/${demo.id}/token`, token)).agentToken as string
  const agent = new WebSocket(hub.url.replace('http', 'ws') + '/agent/v1', { headers: { authorization: `Bearer ${agentToken}` } })
  await once(agent, 'open')
  agent.send(JSON.stringify({ type: 'hello', protocol: 1, agentVersion: 'shots', features: ['console', 'stats'], servers: servers.map(s => ({ serverId: s.id, status: 'STOPPED', seq: 0 })) }))
  await new Promise(resolve => agent.once('message', resolve))
  const at = () => new Date().toISOString()
  const [a, b] = servers as Array<{ id: string }>
  agent.send(JSON.stringify({ type: 'status', serverId: a?.id, status: 'STARTING', seq: 1, at: at() }))
  agent.send(JSON.stringify({ type: 'status', serverId: a?.id, status: 'RUNNING', seq: 2, at: at() }))
  agent.send(JSON.stringify({ type: 'console', serverId: a?.id, lines: ['[Server thread/INFO]: Starting minecraft server on *:25565', '[Server thread/INFO]: Preparing level "world"', '\u001b[32m[Server thread/INFO]: Done (3.2s)! For help, type "help"\u001b[0m'] }))
  agent.send(JSON.stringify({ type: 'stats', serverId: a?.id, at: at(), cpuPercent: 37.5, memoryBytes: 1_300_000_000, memoryLimitBytes: 2_147_483_648, uptimeMs: 4000, players: 3 }))
  agent.send(JSON.stringify({ type: 'status', serverId: b?.id, status: 'STARTING', seq: 1, at: at() }))
  agent.send(JSON.stringify({ type: 'status', serverId: b?.id, status: 'CRASHED', seq: 2, at: at() }))

  const page = await browser.newPage({ viewport: { width: 1100, height: 700 } })
  const shot = async (name: string) => { await page.waitForTimeout(300); await page.screenshot({ path: join(OUT, `${name}.png`) }) }
  await page.goto(hub.url)
  await shot('sign-in')
  await page.getByLabel('Username').fill('admin')
  await page.getByLabel('Password').fill(PASSWORD)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.locator('.conn-live').waitFor()
  await page.locator('.badge', { hasText: 'RUNNING' }).first().waitFor()
  await shot('servers')
  await page.goto(`${hub.url}/servers/${a?.id}`)
  await page.getByRole('heading', { name: 'Power' }).waitFor()
  await page.getByLabel('Console output').getByText('Done (3.2s)', { exact: false }).waitFor()
  await page.waitForTimeout(300)
  await page.screenshot({ path: join(OUT, 'server.png'), fullPage: true })
  await page.goto(`${hub.url}/admin/nodes`)
  await page.getByLabel('New node name').fill('node-2')
  await page.getByRole('button', { name: 'Create node' }).click()
  await page.getByRole('button', { name: 'Copy command' }).waitFor()
  await shot('admin-nodes')
  for (const tab of ['users', 'servers', 'templates']) {
    await page.goto(`${hub.url}/admin/${tab}`)
    await page.locator('table').first().waitFor()
    await shot(`admin-${tab}`)
  }
  await page.getByRole('button', { name: 'Edit minecraft-java' }).click()
  await page.getByLabel('Edit template minecraft-java').waitFor()
  await page.waitForTimeout(300)
  await page.screenshot({ path: join(OUT, 'admin-template-edit.png'), fullPage: true })
  await page.setViewportSize({ width: 390, height: 780 })
  await page.goto(hub.url)
  await page.locator('.conn-live').waitFor()
  await shot('servers-phone')
  agent.close()
  process.stdout.write(`screenshots written to ${OUT}\n`)
} finally {
  await browser.close()
  await hub.close()
  await rm(dataDir, { recursive: true, force: true })
}
