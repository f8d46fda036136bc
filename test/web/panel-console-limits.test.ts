// The console's refusals in a real Chromium: input beyond the COMMAND budget (HUB_ACTION_COMMAND_*)
// is refused with a message that says how long to wait, and a console whose servers.console
// permission is revoked mid-stream stops streaming, says so and takes no more input.
import t from 'tap'
import type { Test } from 'tap'
import type { Page } from 'playwright-core'
import { startTestHub, ADMIN_PASSWORD, type TestHub } from '../helpers/hub.ts'
import { addNode, connectRaw } from '../helpers/raw-agent.ts'
import { launchBrowser, openPanel } from './browser.ts'

const HTTP_REFUSAL = /Failed to load resource: the server responded with a status of (401|403|409|429)/
const clean = (problems: string[]) => problems.filter(p => !HTTP_REFUSAL.test(p))

/** A node with one RUNNING server whose agent offers console and stats. */
async function runningServer (t: Pick<Test, 'teardown'>, hub: TestHub) {
  const { agentToken, servers: [serverId] } = await addNode(hub, 'node-l', 1)
  const agent = await connectRaw(hub, agentToken)
  t.teardown(() => agent.close())
  agent.send({ type: 'hello', protocol: 1, agentVersion: 'raw', features: ['console', 'stats'], servers: [{ serverId, status: 'RUNNING', seq: 1 }] })
  await agent.next('welcome')
  return { agent, serverId: serverId as string }
}

async function openServer (page: Page, username: string, password: string) {
  await page.getByLabel('Username').fill(username)
  await page.getByLabel('Password').fill(password)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.getByRole('heading', { name: 'Console' }).waitFor()
  await page.locator('.conn-live').waitFor()
}

t.test('console input beyond the COMMAND budget is refused with the wait', async t => {
  const browser = await launchBrowser(t)
  if (browser === undefined) return
  // A budget of one command, and a clock for the hub that runs 1,000 times slower than real
  // time: the bucket cannot refill between the two sends however slow this machine is.
  const start = Date.now()
  const hub = await startTestHub(t, { actionCommandUserBurst: 1, actionCommandUserRate: 1 }, { now: () => new Date(start + (Date.now() - start) / 1000) })
  const { agent, serverId } = await runningServer(t, hub)
  const { page, problems } = await openPanel(browser, `${hub.url}/servers/${serverId}`)
  await openServer(page, 'admin', ADMIN_PASSWORD)

  await page.getByLabel('Command').fill('say one')
  await page.getByRole('button', { name: 'Send', exact: true }).click()
  const cmd = await agent.next('command', 10_000)
  t.match(cmd, { action: 'COMMAND', input: 'say one' }, 'the first command is within the budget')
  await page.waitForFunction(() => (globalThis as any).document.getElementById('console-input')?.value === '', undefined, { timeout: 5_000 })

  await page.getByLabel('Command').fill('say two')
  await page.getByRole('button', { name: 'Send', exact: true }).click()
  const alert = page.getByRole('alert').filter({ hasText: /^Too many commands\. Try again in \d+ s\.$/ })
  await alert.waitFor()
  t.match(await alert.innerText(), /Try again in 1 s/, 'the wait the hub named')
  t.equal(await page.getByLabel('Command').inputValue(), 'say two', 'the refused input stays, to send again later')
  const rows = await page.locator('table.actions tbody tr').count()
  t.equal(rows, 1, 'only the first command is in the history')
  t.same(clean(problems), [], 'no console errors')
})

t.test('servers.console revoked mid-stream: the console stops, says so, takes no input', async t => {
  const browser = await launchBrowser(t)
  if (browser === undefined) return
  const hub = await startTestHub(t)
  const admin = await hub.adminToken()
  const { agent, serverId } = await runningServer(t, hub)
  const user = await hub.request('POST', '/api/users', { token: admin, body: { username: 'operator', email: 'operator@example.test', password: 'operator-password' } })
  t.equal(user.status, 201)
  for (const permission of ['servers.view', 'servers.console']) {
    t.equal((await hub.request('POST', `/api/users/${user.body.id as string}/permissions`, { token: admin, body: { permission } })).status, 201)
  }
  const { page, problems } = await openPanel(browser, `${hub.url}/servers/${serverId}`)
  await openServer(page, 'operator', 'operator-password')
  const out = page.getByLabel('Console output')
  agent.send({ type: 'console', serverId, lines: ['before revoke'] })
  await out.locator('div', { hasText: /^before revoke$/ }).waitFor()
  await page.getByLabel('Command').waitFor()

  t.equal((await hub.request('DELETE', `/api/users/${user.body.id as string}/permissions/servers.console`, { token: admin })).status, 204)
  await page.getByRole('alert').filter({ hasText: 'Your console permission was revoked' }).waitFor()
  t.equal(await page.getByLabel('Command').count(), 0, 'no input any more')

  // A line after the revocation, then stats (still allowed: servers.view) on the same socket:
  // once the stats show, the line would have shown too had the stream gone on.
  agent.send({ type: 'console', serverId, lines: ['after revoke'] })
  agent.send({ type: 'stats', serverId, at: new Date().toISOString(), cpuPercent: 42, memoryBytes: 1048576, uptimeMs: 1000 })
  await page.locator('.stats dd', { hasText: '42.0 %' }).waitFor()
  t.equal(await out.locator('div', { hasText: 'after revoke' }).count(), 0, 'no console line after the revocation')
  t.equal(await out.locator('div', { hasText: /^before revoke$/ }).count(), 1, 'what was shown stays')
  t.same(clean(problems), [], 'no console errors')
})
