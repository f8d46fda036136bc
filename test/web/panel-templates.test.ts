// Templates and server configuration in a real Chromium: an admin creates a template with
// variables from the form (the browser refuses an undeclared placeholder and a regex that does
// not compile before sending), edits it, cannot delete it while a server uses it, deletes it
// after; a server is created with a memory limit and auto-restart, and its page changes them
// (the browser refuses a limit the hub would refuse); a user without servers.create gets no editor.
import t from 'tap'
import { startTestHub, ADMIN_PASSWORD } from '../helpers/hub.ts'
import { addNode } from '../helpers/raw-agent.ts'
import type { Page } from 'playwright-core'
import { launchBrowser, openPanel } from './browser.ts'

const HTTP_REFUSAL = /Failed to load resource: the server responded with a status of (400|401|403|404|409|429)/

/** Signs in on a deep link (the panel then shows that page, not the servers table). */
async function signInHere (page: Page, username: string, password: string) {
  await page.getByLabel('Username').fill(username)
  await page.getByLabel('Password').fill(password)
  await page.getByRole('button', { name: 'Sign in' }).click()
}

t.test('templates and server configuration from the admin pages', async t => {
  const browser = await launchBrowser(t)
  if (browser === undefined) return
  const hub = await startTestHub(t)
  const admin = await hub.adminToken()
  await addNode(hub, 'node-t', 0)
  const { page, problems } = await openPanel(browser, `${hub.url}/admin/templates`)
  await signInHere(page, 'admin', ADMIN_PASSWORD)
  await page.getByRole('heading', { name: 'Templates' }).waitFor()
  const byName = async (name: string) => (await hub.request('GET', '/api/alts', { token: admin })).body.items.find((a: { name: string }) => a.name === name)

  await t.test('create a template from the form; the browser checks before sending', async t => {
    await page.getByRole('button', { name: 'New template' }).click()
    await page.getByLabel('Template name').fill('paper')
    await page.getByLabel('Image').fill('ghcr.io/example/java:21')
    await page.getByLabel('Startup line').fill('java -Xmx{{SERVER_MEMORY}}M -jar {{JARFILE}} --port {{SERVER_PORT}}')
    await page.getByLabel('Stop by').selectOption('command')
    await page.getByLabel('Stop command').fill('stop')
    await page.getByLabel('Grace before SIGTERM (s)').fill('20')
    await page.getByLabel('Readiness regex (optional)').fill('Done ([')
    await page.getByRole('button', { name: 'Create template' }).click()
    await page.getByRole('alert').filter({ hasText: 'The readiness regex does not compile' }).waitFor()
    await page.getByLabel('Readiness regex (optional)').fill('Done \\(')
    await page.getByRole('button', { name: 'Create template' }).click()
    await page.getByRole('alert').filter({ hasText: 'uses {{JARFILE}}' }).waitFor()
    t.equal(await byName('paper'), undefined, 'nothing was sent')

    await page.getByRole('button', { name: 'Add variable' }).click()
    await page.getByLabel('Variable 1 name').fill('JARFILE')
    await page.getByLabel('Variable 1 default').fill('server.jar')
    await page.getByLabel('Variable 1 description').fill('the jar to run')
    await page.getByRole('button', { name: 'Add variable' }).click()
    await page.getByLabel('Variable 2 name').fill('EULA')
    await page.getByLabel('Variable 2 required').check()
    await page.getByRole('button', { name: 'Create template' }).click()
    await page.getByRole('status').filter({ hasText: 'Template paper saved.' }).waitFor()
    await page.locator('tr[data-alt="paper"]').waitFor()
    const alt = await byName('paper')
    t.match(alt, {
      image: 'ghcr.io/example/java:21',
      startup: 'java -Xmx{{SERVER_MEMORY}}M -jar {{JARFILE}} --port {{SERVER_PORT}}',
      stop: { type: 'command', value: 'stop', graceS: 20 },
      doneRegex: 'Done \\(',
      install: null,
      variables: [{ name: 'JARFILE', default: 'server.jar', description: 'the jar to run', required: false }, { name: 'EULA', required: true }]
    })
    t.notOk('default' in alt.variables[1], 'a required variable left empty has no default')
  })

  await t.test('a refusal of the hub is shown (a taken name)', async t => {
    await page.getByRole('button', { name: 'New template' }).click()
    await page.getByLabel('Template name').fill('paper')
    await page.getByLabel('Image').fill('x')
    await page.getByLabel('Startup line').fill('run')
    await page.getByRole('button', { name: 'Create template' }).click()
    await page.getByRole('alert').filter({ hasText: 'an alt named paper already exists' }).waitFor()
    await page.getByRole('button', { name: 'Cancel' }).click()
    t.pass()
  })

  let serverId = ''
  await t.test('create a server with a memory limit and auto-restart', async t => {
    await page.getByRole('link', { name: 'Servers' }).nth(1).click()
    await page.getByLabel('Template').selectOption({ label: 'paper' })
    await page.getByLabel('Name', { exact: true }).fill('paper-1')
    await page.getByLabel('Node').selectOption({ label: 'node-t' })
    await page.getByLabel('Port').fill('25570')
    await page.getByLabel(/^EULA/).fill('true')
    t.ok(await page.getByLabel('Restarts at most').isDisabled(), 'auto-restart fields are off until switched on')
    await page.getByLabel('Memory limit (MiB, empty for none)').fill('32')
    await page.getByRole('button', { name: 'Create server' }).click()
    const tooSmall = await page.getByLabel('Memory limit (MiB, empty for none)').evaluate(el => (el as any).validity.rangeUnderflow)
    t.ok(tooSmall, 'the browser refuses a limit below 64 MiB')
    await page.getByLabel('Memory limit (MiB, empty for none)').fill('3072')
    await page.getByLabel('Restart automatically after a crash').check()
    await page.getByLabel('Restarts at most').fill('5')
    await page.getByLabel('Within (seconds)').fill('600')
    await page.getByRole('button', { name: 'Create server' }).click()
    await page.getByRole('row', { name: /paper-1/ }).waitFor()
    const server = (await hub.request('GET', '/api/servers', { token: admin })).body.items.find((s: { name: string }) => s.name === 'paper-1')
    t.match(server, { environment: { EULA: 'true' }, memoryLimitMb: 3072, autoRestart: { enabled: true, maxRestarts: 5, windowS: 600 } })
    serverId = server.id
  })

  await t.test('the server page edits name, memory limit and auto-restart', async t => {
    await page.getByRole('link', { name: 'paper-1' }).click()
    await page.getByRole('heading', { name: 'Configuration' }).waitFor()
    await page.waitForFunction(() => (globalThis as any).document.getElementById('cfg-max')?.value === '5', undefined, { timeout: 10_000 })
    await page.getByLabel('Server name').fill('paper-main')
    await page.getByLabel('Within (seconds)').fill('5')
    await page.getByRole('button', { name: 'Save configuration' }).click()
    t.ok(await page.getByLabel('Within (seconds)').evaluate(el => (el as any).validity.rangeUnderflow), 'the browser refuses a window below 10 s')
    await page.getByLabel('Within (seconds)').fill('900')
    await page.getByLabel('Memory limit (MiB, empty for none)').fill('')
    await page.getByRole('button', { name: 'Save configuration' }).click()
    await page.getByRole('status').filter({ hasText: /^Saved \(revision 2\)/ }).waitFor()
    let after = (await hub.request('GET', `/api/servers/${serverId}`, { token: admin })).body
    t.match(after, { name: 'paper-main', memoryLimitMb: null, autoRestart: { enabled: true, maxRestarts: 5, windowS: 900 }, configRevision: 2 })
    await page.getByLabel('Restart automatically after a crash').uncheck()
    await page.getByRole('button', { name: 'Save configuration' }).click()
    await page.getByRole('status').filter({ hasText: /^Saved \(revision 3\)/ }).waitFor()
    after = (await hub.request('GET', `/api/servers/${serverId}`, { token: admin })).body
    t.match(after.autoRestart, { enabled: false, maxRestarts: 5, windowS: 900 }, 'switched off, the limits kept')
  })

  await t.test('edit the template; delete refused while used, then deleted', async t => {
    await page.goto(`${hub.url}/admin/templates`)
    await page.getByRole('button', { name: 'Edit paper' }).click()
    await page.getByLabel('Edit template paper').waitFor()
    t.equal(await page.getByLabel('Variable 2 name').inputValue(), 'EULA', 'the form holds the stored variables')
    t.ok(await page.getByLabel('Variable 2 required').isChecked())
    await page.getByLabel('Startup line').fill('java -jar {{JARFILE}} nogui')
    await page.getByRole('button', { name: 'Save template' }).click()
    await page.getByRole('status').filter({ hasText: 'Template paper saved.' }).waitFor()
    const alt = await byName('paper')
    t.match(alt, { startup: 'java -jar {{JARFILE}} nogui', stop: { type: 'command', value: 'stop', graceS: 20 }, doneRegex: 'Done \\(' }, 'other fields kept')
    const server = (await hub.request('GET', `/api/servers/${serverId}`, { token: admin })).body
    t.equal(server.configRevision, 4, 'the server made from it got a new revision')

    await page.getByRole('button', { name: 'Delete paper' }).click()
    await page.getByRole('button', { name: 'Confirm delete' }).click()
    await page.getByRole('alert').filter({ hasText: '1 server is still made from this template' }).waitFor()
    t.equal((await hub.request('DELETE', `/api/servers/${serverId}`, { token: admin })).status, 204)
    await page.getByRole('button', { name: 'Delete paper' }).click()
    await page.getByRole('button', { name: 'Confirm delete' }).click()
    await page.getByRole('status').filter({ hasText: 'Template paper deleted.' }).waitFor()
    await page.locator('tr[data-alt="paper"]').waitFor({ state: 'detached' })
    t.equal(await byName('paper'), undefined)
  })

  await t.test('a user without servers.create reads templates but gets no editor', async t => {
    const created = await hub.request('POST', '/api/users', { token: admin, body: { username: 'reader', email: 'reader@example.test', password: 'reader-password' } })
    t.equal(created.status, 201)
    const other = await openPanel(browser, `${hub.url}/admin/templates`)
    await signInHere(other.page, 'reader', 'reader-password')
    await other.page.getByRole('heading', { name: 'Templates' }).waitFor()
    await other.page.locator('tr[data-alt="generic"]').waitFor()
    t.equal(await other.page.getByRole('button', { name: 'New template' }).count(), 0)
    t.equal(await other.page.getByRole('button', { name: /^Edit / }).count(), 0)
    t.same(other.problems.filter(p => !HTTP_REFUSAL.test(p)), [], 'no console errors in the reader\'s tab')
  })

  t.same(problems.filter(p => !HTTP_REFUSAL.test(p)), [], 'no console errors')
})
