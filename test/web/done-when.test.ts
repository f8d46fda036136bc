// The "done when", as a person does it: `npm start` on a fresh data folder (a real child
// process with embedded PostgreSQL and the printed admin password), the panel signed in at the
// printed URL, then `npm run simulate` against that hub (another child process). The simulated
// servers join the table without a reload, their statuses change live, and a running server's
// page shows its console and stats live.
import { spawn, type ChildProcess } from 'node:child_process'
import { chmod, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { createInterface } from 'node:readline'
import t from 'tap'
import { launchBrowser, openPanel } from './browser.ts'

// A fresh embedded cluster, a simulated fleet's first starts and a live console line: up to a
// minute or two on a busy machine, past the default 120 s per file.
t.setTimeout(300_000)

const ROOT = path.resolve(import.meta.dirname, '../..')
const HTTP_REFUSAL = /Failed to load resource: the server responded with a status of (401|403|409|429)/

/** Every stdout/stderr line of a child, and a way to wait for one. */
function watchLines (child: ChildProcess) {
  const lines: string[] = []
  const waiters = new Set<{ re: RegExp, resolve: (m: RegExpMatchArray) => void }>()
  const take = (line: string) => {
    lines.push(line)
    if (lines.length > 200) lines.shift()
    for (const w of waiters) {
      const m = w.re.exec(line)
      if (m !== null) { waiters.delete(w); w.resolve(m) }
    }
  }
  if (child.stdout !== null) createInterface({ input: child.stdout }).on('line', take)
  if (child.stderr !== null) createInterface({ input: child.stderr }).on('line', take)
  return {
    lines,
    async next (re: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
      const seen = lines.map(l => re.exec(l)).find(m => m !== null)
      if (seen !== undefined && seen !== null) return seen
      return await new Promise((resolve, reject) => {
        const w = { re, resolve: (m: RegExpMatchArray) => { clearTimeout(timer); resolve(m) } }
        const timer = setTimeout(() => { waiters.delete(w); reject(new Error(`no line matching ${re} within ${timeoutMs} ms; last lines:\n${lines.slice(-20).join('\n')}`)) }, timeoutMs)
        waiters.add(w)
      })
    }
  }
}

/** SIGTERM, then SIGKILL if it has not exited within `ms`. */
async function stop (child: ChildProcess, ms = 20_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise(resolve => child.once('exit', resolve))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), ms)
  await exited
  clearTimeout(timer)
}

t.test('npm start on a fresh data folder, npm run simulate against it, watched live in the panel', async t => {
  const browser = await launchBrowser(t)
  if (browser === undefined) return
  const dataDir = await mkdtemp(path.join(tmpdir(), 'hub-done-when-'))
  // Embedded PostgreSQL runs as the user postgres when we are root: it must enter the folder.
  await chmod(dataDir, 0o755)
  t.teardown(() => rm(dataDir, { recursive: true, force: true }))
  const env: NodeJS.ProcessEnv = { ...process.env, HUB_DATA_DIR: dataDir, HUB_PORT: '0', HUB_HOST: '127.0.0.1', NODE_ENV: 'development', LOG_LEVEL: 'warn' }
  for (const key of ['DATABASE_URL', 'HUB_ADMIN_PASSWORD', 'HUB_PUBLIC_URL']) delete env[key]

  // What a person does: `npm start` (the script runs exactly this) and read what it prints.
  const hub = spawn(process.execPath, ['src/hub/main.ts'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => stop(hub))
  const hubOut = watchLines(hub)
  const [, password] = await hubOut.next(/admin password \(generated, shown once\): (\S+)/, 90_000)
  const [, panelUrl] = await hubOut.next(/^panel: (http:\/\/\S+\/)/, 90_000)
  t.ok(password, 'the generated admin password is printed')

  const { page, problems } = await openPanel(browser, panelUrl as string)
  await page.getByLabel('Username').fill('admin')
  await page.getByLabel('Password').fill(password as string)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.locator('.conn-live').waitFor()
  await page.locator('tr[data-server]', { hasText: 'demo-1' }).waitFor()
  t.pass('signed in with the printed password; the demo servers are listed')

  // Then `npm run simulate` against that hub, in another terminal.
  const sim = spawn(process.execPath, ['agent-simulator/simulate.ts', '--hub', (panelUrl as string).replace(/\/$/, ''), '--admin-password', password as string,
    '--agents', '2', '--servers', '3', '--duration', '120', '--report', path.join(dataDir, 'report')], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => stop(sim))
  const simOut = watchLines(sim)
  await simOut.next(/agents connected/, 60_000)

  // The simulated servers join the table without a reload (the panel looks for new servers).
  const simRows = page.locator('tr[data-server]', { hasText: 'sim-node-' })
  await page.waitForFunction(() => (globalThis as any).document.querySelectorAll('tr[data-server]').length >= 9, undefined, { timeout: 30_000 })
  t.equal(await simRows.count(), 6, 'the six simulated servers are in the table')
  await page.waitForFunction(() => [...(globalThis as any).document.querySelectorAll('tr[data-server]')]
    .filter((tr: any) => tr.textContent.includes('sim-node-') && tr.querySelector('.presence-online') !== null).length === 6, undefined, { timeout: 15_000 })
  t.pass('their nodes are shown online')

  // Statuses change live: some simulated server reaches RUNNING (STOPPED -> STARTING -> RUNNING).
  const running = simRows.filter({ has: page.locator('.badge', { hasText: 'RUNNING' }) }).first()
  await running.waitFor({ timeout: 60_000 })
  const name = await running.locator('th a').innerText()
  t.pass(`${name} turned RUNNING in the table, live`)

  // Its page: console (the replay holds its start) and stats, then more lines as they come.
  await running.locator('th a').click()
  await page.getByRole('heading', { name }).waitFor()
  const out = page.getByLabel('Console output')
  await out.locator('div', { hasText: 'Done! Server is ready for players' }).first().waitFor({ timeout: 15_000 })
  t.pass('the console shows the server\'s start')
  const shown = await out.locator('div').count()
  await page.waitForFunction(n => (globalThis as any).document.querySelectorAll('.console-out div').length > n, shown, { timeout: 90_000 })
  t.pass('a new console line arrived live')
  await page.locator('.stats dt', { hasText: 'CPU' }).waitFor({ timeout: 15_000 })
  t.pass('stats are shown')

  t.same(problems.filter(p => !HTTP_REFUSAL.test(p)), [], 'no console errors')
  await stop(sim)
  await stop(hub)
  t.equal(hub.exitCode, 0, 'the hub stopped cleanly')
})
