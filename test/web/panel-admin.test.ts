// Administration in the browser: a node's agent token shown once with the exact agent command
// line (and the token works), rotation, deletion; a user and a server created from forms; the
// phone-width layout; hub restart -> banner -> resumed.
import t from 'tap'
import { buildHub } from '../../src/hub/build-hub.ts'
import { loadConfig } from '../../src/hub/config.ts'
import { startTestHub, ADMIN_PASSWORD, testAgentTokens } from '../helpers/hub.ts'
import { addNode, connectRaw, hello } from '../helpers/raw-agent.ts'
import { launchBrowser, openPanel, rowStatus, signIn } from './browser.ts'

const HTTP_REFUSAL = /Failed to load resource: the server responded with a status of (401|403|409|429)/

t.test('admin screens', async t => {
  const browser = await launchBrowser(t)
  if (browser === undefined) return
  const hub = await startTestHub(t, { publicUrl: undefined })
  const { page, problems } = await openPanel(browser, `${hub.url}/admin/nodes`)
  await page.context().grantPermissions(['clipboard-read', 'clipboard-write'])
  await page.getByLabel('Username').fill('admin')
  await page.getByLabel('Password').fill(ADMIN_PASSWORD)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.getByRole('heading', { name: 'Nodes' }).waitFor()

  await t.test('create a node: token shown once, with the agent line; it works; rotate; delete', async t => {
    await page.getByLabel('New node name').fill('node-ui')
    await page.getByRole('button', { name: 'Create node' }).click()
    const token = await page.getByLabel('Token', { exact: true }).inputValue()
    const line = await page.getByLabel('Run the agent on the node').inputValue()
    t.equal(line, `AGENT_HUB_URL=${hub.url.replace('http', 'ws')}/agent/v1 AGENT_TOKEN=${token} npm run agent`)
    await page.getByRole('button', { name: 'Copy command' }).click()
    await page.getByText('Command copied.').waitFor()
    const agent = await connectRaw(hub, token)
    await hello(agent, [])
    await page.getByRole('button', { name: 'Done' }).click()
    t.equal(await page.getByLabel('Token', { exact: true }).count(), 0, 'the token is gone once dismissed')
    await page.getByRole('button', { name: 'Rotate token of node-ui' }).click()
    const rotated = await page.getByLabel('Token', { exact: true }).inputValue()
    t.not(rotated, token)
    const [code] = await agent.closed
    t.equal(code, 4401, 'the old token\'s connection is closed')
    await page.getByRole('button', { name: 'Done' }).click()
    await page.getByRole('button', { name: 'Delete node-ui' }).click()
    await page.getByRole('button', { name: 'Confirm delete' }).click()
    await page.getByRole('row', { name: /node-ui/ }).waitFor({ state: 'detached' })
  })

  await t.test('create a user and a server from a template; the server joins the live table', async t => {
    await page.getByRole('link', { name: 'Users' }).click()
    await page.getByLabel('Username').fill('carol')
    await page.getByLabel('Email').fill('carol@example.test')
    await page.getByLabel('Password').fill('carol-password')
    await page.getByRole('button', { name: 'Create user' }).click()
    await page.locator('tr[data-user="carol"]').waitFor()
    await addNode(hub, 'node-b', 0)
    const admin = await hub.adminToken()
    const alt = await hub.request('POST', '/api/alts', {
      token: admin,
      body: {
        name: 'vars-game',
        image: 'none',
        startup: 'java -jar server.jar',
        variables: [
          { name: 'EULA', default: 'false', description: 'accept the EULA', required: true },
          { name: 'DOWNLOAD_URL', default: '', description: 'where to fetch the jar', required: false }
        ]
      }
    })
    t.equal(alt.status, 201, JSON.stringify(alt.body))
    await page.getByRole('link', { name: 'Servers' }).nth(1).click()
    await page.getByLabel('Name').fill('mc-1')
    await page.getByLabel('Node').selectOption({ label: 'node-b' })
    await page.getByLabel('Owner').selectOption({ label: 'carol' })
    await page.getByLabel('Port').fill('25565')
    await page.getByLabel('Template').selectOption({ label: 'vars-game' })
    await page.getByLabel(/^EULA/).fill('TRUE')
    await page.getByRole('button', { name: 'Create server' }).click()
    await page.getByRole('row', { name: /mc-1/ }).waitFor()
    const list = await hub.request('GET', '/api/servers', { token: admin })
    const created = list.body.items.find((s: any) => s.name === 'mc-1')
    t.match(created.environment, { EULA: 'TRUE' }, 'the template variable is the server\'s environment')

    // Its page edits the environment (PATCH, replaced whole) and the memory limit.
    await page.getByRole('link', { name: 'mc-1' }).click()
    await page.getByRole('heading', { name: 'Configuration' }).waitFor()
    await page.waitForFunction(() => (globalThis as any).document.getElementById('env-EULA')?.value === 'TRUE', undefined, { timeout: 10_000 })
    t.pass('the page shows the server\'s environment')
    await page.getByLabel(/^DOWNLOAD_URL/).fill('https://example.test/server.jar')
    await page.getByLabel(/^Memory limit/).fill('2048')
    await page.getByRole('button', { name: 'Save configuration' }).click()
    await page.getByRole('status').filter({ hasText: /^Saved/ }).waitFor()
    const after = await hub.request('GET', `/api/servers/${created.id}`, { token: admin })
    t.same(after.body.environment, { EULA: 'TRUE', DOWNLOAD_URL: 'https://example.test/server.jar' })
    t.equal(after.body.memoryLimitMb, 2048)
    await page.goto(`${hub.url}/admin/templates`)
    const tpl = page.locator('tr', { hasText: 'vars-game' })
    await tpl.waitFor()
    t.match(await tpl.innerText(), /EULA = false \(required\)[\s\S]*DOWNLOAD_URL — where to fetch the jar/, 'the templates page lists variables')
    await page.getByRole('link', { name: 'Servers' }).first().click()
    const row = page.locator('tr', { hasText: 'mc-1' })
    await row.locator('.badge', { hasText: 'STOPPED' }).waitFor()
    t.match(await row.innerText(), /carol/)
  })

  await t.test('phone width: no horizontal scrolling of the page', async t => {
    await page.setViewportSize({ width: 375, height: 740 })
    for (const path of ['/', '/admin/nodes', '/admin/users', '/admin/servers', '/admin/templates']) {
      await page.goto(`${hub.url}${path}`)
      await page.locator('main h1').waitFor()
      const [scroll, width] = await page.evaluate(() => [(globalThis as any).document.documentElement.scrollWidth, (globalThis as any).innerWidth])
      t.ok(scroll <= width, `${path}: ${scroll} <= ${width}`)
    }
  })
  t.same(problems.filter(p => !HTTP_REFUSAL.test(p)), [], 'no console errors')
})

t.test('hub restart: banner, then resumed live', async t => {
  const browser = await launchBrowser(t)
  if (browser === undefined) return
  const first = await startTestHub(t)
  const { agentToken, servers: [s1] } = await addNode(first, 'node-r', 1)
  const agent = await connectRaw(first, agentToken)
  await hello(agent, [s1 as string])
  const { page, problems } = await openPanel(browser, first.url)
  await signIn(page, 'admin', ADMIN_PASSWORD)
  await rowStatus(page, s1 as string).filter({ hasText: 'STOPPED' }).waitFor()

  await first.app.close()
  await page.getByRole('status').filter({ hasText: 'Connection to the hub lost' }).waitFor()

  const port = Number(new URL(first.url).port)
  const config = { ...loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent' }), databaseUrl: first.databaseUrl, dbPoolMax: 4 }
  const second = await buildHub({ config, agentTokens: await testAgentTokens() })
  t.teardown(() => second.close())
  await second.listen({ host: '127.0.0.1', port })
  const again = await connectRaw(first, agentToken)
  t.teardown(() => again.close())
  again.send({ type: 'hello', protocol: 1, agentVersion: 'raw', servers: [{ serverId: s1, status: 'STOPPED', seq: 0 }] })
  await again.next('welcome')
  again.send({ type: 'status', serverId: s1, status: 'STARTING', seq: 1, at: new Date().toISOString() })
  await rowStatus(page, s1 as string).filter({ hasText: 'STARTING' }).waitFor()
  await page.locator('.conn-live').waitFor()
  t.equal(await page.locator('.banner').count(), 0, 'the banner is gone')
  again.send({ type: 'status', serverId: s1, status: 'RUNNING', seq: 2, at: new Date().toISOString() })
  await rowStatus(page, s1 as string).filter({ hasText: 'RUNNING' }).waitFor()
  t.same(problems.filter(p => !HTTP_REFUSAL.test(p) && !/WebSocket|ERR_CONNECTION_REFUSED|Failed to load resource/.test(p)), [], 'no other console errors')
})
