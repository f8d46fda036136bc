// The panel end to end in a real Chromium against a real hub and raw agents: live status by
// push, START from the page reaching the agent, a viewer without control, a permission revoked
// live in another tab, deep links and the CSP.
import t from 'tap'
import type { Page } from 'playwright-core'
import { startTestHub, ADMIN_PASSWORD } from '../helpers/hub.ts'
import { addNode, connectRaw, hello } from '../helpers/raw-agent.ts'
import { launchBrowser, openPanel, rowStatus, signIn } from './browser.ts'

/** Chromium reports refused HTTP answers as console errors; these tests provoke them on purpose. */
const HTTP_REFUSAL = /Failed to load resource: the server responded with a status of (401|403|409|429)/
const clean = (problems: string[]) => problems.filter(p => !HTTP_REFUSAL.test(p))

/** Milliseconds until `status` shows in the server's row. */
async function timeToStatus (page: Page, serverId: string, status: string, from: number): Promise<number> {
  await page.waitForFunction(([id, st]) => (globalThis as any).document.querySelector(`tr[data-server="${id}"] .badge`)?.textContent === st, [serverId, status], { timeout: 5_000, polling: 'raf' })
  return Date.now() - from
}

t.test('panel end to end', async t => {
  const browser = await launchBrowser(t)
  if (browser === undefined) return
  const hub = await startTestHub(t)
  const admin = await hub.adminToken()
  const { agentToken, servers: [s1, s2] } = await addNode(hub, 'node-a', 2)
  const agent = await connectRaw(hub, agentToken)
  t.teardown(() => agent.close())
  await hello(agent, [s1 as string, s2 as string])

  await t.test('the page carries a strict CSP and deep links serve the panel', async t => {
    const res = await fetch(`${hub.url}/servers/${s1}`)
    t.equal(res.status, 200)
    t.match(res.headers.get('content-type'), /text\/html/)
    const csp = res.headers.get('content-security-policy') ?? ''
    t.match(csp, /script-src 'self'/)
    t.notMatch(csp, /unsafe-inline|unsafe-eval/)
    t.match(await res.text(), /<script type="module" src="\/js\/main.js">/)
    const api = await fetch(`${hub.url}/api/no-such-route`, { headers: { authorization: `Bearer ${admin}` } })
    t.equal(api.status, 404)
    t.same(await api.json(), { error: { code: 'NOT_FOUND', message: 'no route GET /api/no-such-route' } })
  })

  const { page, problems } = await openPanel(browser, hub.url)
  await t.test('sign in: a wrong password, then the live table', async t => {
    await page.getByLabel('Username').fill('admin')
    await page.getByLabel('Password').fill('wrong-password')
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.getByRole('alert').filter({ hasText: 'Wrong username or password.' }).waitFor()
    await signIn(page, 'admin', ADMIN_PASSWORD)
    t.equal(await page.locator('tr[data-server]').count(), 2)
    t.equal(await rowStatus(page, s1 as string).innerText(), 'STOPPED')
    t.ok(await page.evaluate(() => sessionStorage.getItem('hub.session') !== null), 'the session token is in sessionStorage')
  })

  await t.test('a status change from the agent shows within 1 s, without reload', async t => {
    const from = Date.now()
    agent.send({ type: 'status', serverId: s2, status: 'STARTING', seq: 1, at: new Date().toISOString() })
    const ms = await timeToStatus(page, s2 as string, 'STARTING', from)
    t.ok(ms <= 1_000, `shown after ${ms} ms`)
  })

  await t.test('START from the server page reaches the agent and the row turns RUNNING', async t => {
    await page.getByRole('link', { name: 'node-a-0' }).click()
    await page.getByRole('heading', { name: 'node-a-0' }).waitFor()
    t.equal(page.url(), `${hub.url}/servers/${s1}`)
    await page.getByRole('button', { name: 'Start', exact: true }).click()
    const command = await agent.next('command', 10_000)
    t.equal(command.serverId, s1)
    t.equal(command.action, 'START')
    agent.send({ type: 'command.ack', commandId: command.commandId })
    agent.send({ type: 'status', serverId: s1, status: 'STARTING', seq: 1, at: new Date().toISOString() })
    agent.send({ type: 'status', serverId: s1, status: 'RUNNING', seq: 2, at: new Date().toISOString() })
    agent.send({ type: 'command.result', commandId: command.commandId, ok: true })
    await page.locator(`tr[data-action="${command.commandId}"] .state`, { hasText: 'SUCCEEDED' }).waitFor()
    await page.locator('.status-line .badge', { hasText: 'RUNNING' }).waitFor()
    t.ok(await page.getByRole('button', { name: 'Stop', exact: true }).isEnabled(), 'Stop is enabled while RUNNING')
    t.ok(await page.getByRole('button', { name: 'Start', exact: true }).isDisabled(), 'Start is disabled while RUNNING')
    // A deep link survives a reload (the session stays in sessionStorage).
    await page.reload()
    await page.getByRole('heading', { name: 'node-a-0' }).waitFor()
    await page.getByRole('link', { name: 'Servers' }).first().click()
    await rowStatus(page, s1 as string).filter({ hasText: 'RUNNING' }).waitFor()
  })

  await t.test('a viewer without control has no enabled power button; a forced request shows the error', async t => {
    const created = await hub.request('POST', '/api/users', { token: admin, body: { username: 'viewer', email: 'viewer@example.test', password: 'viewer-password' } })
    t.equal(created.status, 201)
    t.equal((await hub.request('POST', `/api/users/${created.body.id}/permissions`, { token: admin, body: { permission: 'servers.view' } })).status, 201)
    const viewer = await openPanel(browser, `${hub.url}/servers/${s1}`)
    await signIn(viewer.page, 'viewer', 'viewer-password').catch(async () => {
      // A deep link signs in to the page it names.
      await viewer.page.getByRole('heading', { name: 'node-a-0' }).waitFor()
    })
    await viewer.page.getByRole('heading', { name: 'node-a-0' }).waitFor()
    const power = viewer.page.getByRole('group', { name: 'Power actions' }).getByRole('button')
    t.equal(await power.count(), 4)
    for (const b of await power.all()) t.ok(await b.isDisabled(), `${await b.innerText()} is disabled`)
    await viewer.page.evaluate(() => (globalThis as any).document.querySelector('[aria-label="Power actions"] button:nth-child(2)')?.removeAttribute('disabled'))
    await viewer.page.getByRole('button', { name: 'Stop', exact: true }).click()
    await viewer.page.getByRole('alert').filter({ hasText: /^Not allowed/ }).waitFor()

    await t.test('an admin revokes servers.view in one tab: the servers leave the viewer\'s table live', async t => {
      await viewer.page.getByRole('link', { name: 'Servers' }).first().click()
      await viewer.page.locator('tr[data-server]').nth(1).waitFor()
      await page.goto(`${hub.url}/admin/users`)
      const row = page.locator('tr[data-user="viewer"]')
      // click, not uncheck: the box is bound to the user list, and a re-render before the list is
      // reloaded can show the old state for a moment, which uncheck() reads as a failed click.
      await row.getByLabel('servers.view').click()
      await viewer.page.locator('tr[data-server]').first().waitFor({ state: 'detached' })
      t.equal(await viewer.page.locator('tr[data-server]').count(), 0)
      t.same(clean(viewer.problems), [], 'no console errors in the viewer\'s tab')
    })
  })

  t.same(clean(problems), [], 'no console errors in the admin\'s tab')
})

t.test('sign-in errors: 429 with the wait from Retry-After, hub unreachable', async t => {
  const browser = await launchBrowser(t)
  if (browser === undefined) return
  const hub = await startTestHub(t, { loginMaxAttempts: 2 })
  const { page, problems } = await openPanel(browser, hub.url)
  for (let i = 0; i < 2; i++) await hub.request('POST', '/api/auth/login', { body: { username: 'admin', password: 'nope-nope' } })
  await page.getByLabel('Username').fill('admin')
  await page.getByLabel('Password').fill('nope-nope')
  await page.getByRole('button', { name: 'Sign in' }).click()
  const limited = page.getByRole('alert').filter({ hasText: /^Too many attempts\. Try again in \d+ s\.$/ })
  await limited.waitFor()
  t.pass(await limited.innerText())
  await hub.app.close()
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.getByRole('alert').filter({ hasText: 'The hub cannot be reached' }).waitFor()
  t.same(clean(problems).filter(p => !/ERR_CONNECTION_REFUSED/.test(p)), [])
})
