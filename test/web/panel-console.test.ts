// The live console and stats on the server page in a real Chromium (PROTOCOL.md 1.1): the last
// 200 lines on open, live lines from an agent with `console`/`stats`, input from the page as a
// COMMAND the agent receives and the history shows, no input without servers.console, live stats.
import t from 'tap'
import { startTestHub, ADMIN_PASSWORD } from '../helpers/hub.ts'
import { addNode, connectRaw } from '../helpers/raw-agent.ts'
import { launchBrowser, openPanel, signIn } from './browser.ts'

const HTTP_REFUSAL = /Failed to load resource: the server responded with a status of (401|403|409|429)/
const clean = (problems: string[]) => problems.filter(p => !HTTP_REFUSAL.test(p))
const stats = (cpuPercent: number, memoryBytes: number) => ({ type: 'stats', at: new Date().toISOString(), cpuPercent, memoryBytes, uptimeMs: 1000 })

t.test('console and stats on the server page', async t => {
  const browser = await launchBrowser(t)
  if (browser === undefined) return
  const hub = await startTestHub(t)
  const admin = await hub.adminToken()
  const { agentToken, servers: [s1] } = await addNode(hub, 'node-c', 1)
  const agent = await connectRaw(hub, agentToken)
  t.teardown(() => agent.close())
  agent.send({ type: 'hello', protocol: 1, agentVersion: 'raw', features: ['console', 'stats'], servers: [{ serverId: s1, status: 'RUNNING', seq: 1 }] })
  t.same((await agent.next('welcome')).features, ['console', 'stats'])
  // 250 lines before anyone watches: the page opens with the last 200 (line 50 to line 249).
  for (let i = 0; i < 250; i += 50) agent.send({ type: 'console', serverId: s1, lines: Array.from({ length: 50 }, (_, k) => `line ${i + k}`) })
  agent.send({ serverId: s1, ...stats(12.5, 64 * 1048576) })

  const { page, problems } = await openPanel(browser, `${hub.url}/servers/${s1}`)
  await signIn(page, 'admin', ADMIN_PASSWORD).catch(() => {})
  await page.getByRole('heading', { name: 'node-c-0' }).waitFor()
  const out = page.getByLabel('Console output')

  await t.test('the last 200 lines are shown on open, as text', async t => {
    await out.locator('div', { hasText: /^line 249$/ }).waitFor()
    const lines = await out.locator('div').allInnerTexts()
    t.equal(lines.length, 200)
    t.equal(lines[0], 'line 50')
  })

  await t.test('live lines from the agent appear; markup stays text', async t => {
    agent.send({ type: 'console', serverId: s1, lines: ['live <b>one</b>', '\u001b[31mred\u001b[0m'] })
    await out.locator('div', { hasText: 'live <b>one</b>' }).waitFor()
    t.equal(await out.locator('b').count(), 0, 'no HTML from console text')
    t.equal(await out.locator('div', { hasText: /^red$/ }).locator('span').count(), 1, 'ANSI colour as a span')
  })

  await t.test('stats show and update live', async t => {
    const cpu = page.locator('.stats dt', { hasText: 'CPU' }).locator('xpath=following-sibling::dd[1]')
    await cpu.filter({ hasText: '12.5 %' }).waitFor()
    t.match(await page.locator('.stats').innerText(), /64\.0 MiB/)
    agent.send({ serverId: s1, ...stats(50, 128 * 1048576) })
    await cpu.filter({ hasText: '50.0 %' }).waitFor()
    t.match(await page.locator('.stats').innerText(), /128\.0 MiB/)
  })

  await t.test('input from the page is a COMMAND the agent receives, shown in the history', async t => {
    await page.getByLabel('Command').fill('say hi')
    await page.getByRole('button', { name: 'Send', exact: true }).click()
    const cmd = await agent.next('command', 10_000)
    t.match(cmd, { serverId: s1, action: 'COMMAND', input: 'say hi' })
    agent.send({ type: 'command.ack', commandId: cmd.commandId })
    agent.send({ type: 'command.result', commandId: cmd.commandId, ok: true })
    const row = page.locator(`tr[data-action="${cmd.commandId}"]`)
    await row.locator('.state', { hasText: 'SUCCEEDED' }).waitFor()
    // The push event names only action and state; the row shows the input from `console.sent`.
    await row.filter({ hasText: '> say hi' }).waitFor()
    t.match(await row.innerText(), /COMMAND[\s\S]*> say hi/)
    await page.waitForFunction(() => (globalThis as any).document.getElementById('console-input')?.value === '', undefined, { timeout: 5_000 })
    t.pass('the input is cleared')
  })

  await t.test('a user without servers.console sees stats but has no console input', async t => {
    const created = await hub.request('POST', '/api/users', { token: admin, body: { username: 'watcher', email: 'watcher@example.test', password: 'watcher-password' } })
    t.equal(created.status, 201)
    t.equal((await hub.request('POST', `/api/users/${created.body.id}/permissions`, { token: admin, body: { permission: 'servers.view' } })).status, 201)
    const viewer = await openPanel(browser, `${hub.url}/servers/${s1}`)
    await signIn(viewer.page, 'watcher', 'watcher-password').catch(() => {})
    await viewer.page.getByRole('heading', { name: 'node-c-0' }).waitFor()
    await viewer.page.getByRole('heading', { name: 'Stats' }).waitFor()
    agent.send({ serverId: s1, ...stats(75, 1048576) })
    await viewer.page.locator('.stats dd', { hasText: '75.0 %' }).waitFor()
    t.equal(await viewer.page.getByLabel('Command').count(), 0, 'no console input')
    t.equal(await viewer.page.getByLabel('Console output').count(), 0, 'no console output')
    t.same(clean(viewer.problems), [], 'no console errors in the viewer\'s tab')
  })

  t.same(clean(problems), [], 'no console errors in the admin\'s tab')
})
