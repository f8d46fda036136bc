// A real Chromium for the panel's end-to-end tests: playwright-core driving the system browser
// (Debian's `chromium`; no browser download). Without one the tests skip and say why, unless
// HUB_REQUIRE_BROWSER=1 (set by .ci/run) turns that into a failure.
import { existsSync } from 'node:fs'
import { chromium, type Browser, type Page } from 'playwright-core'
import type { Test } from 'tap'

const CANDIDATES = [process.env.HUB_CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome']

export function findChromium (): string | undefined {
  return CANDIDATES.find((p): p is string => p !== undefined && p !== '' && existsSync(p))
}

type Tap = Pick<Test, 'teardown' | 'pass' | 'fail'>

/** The browser for this test file, or undefined after skipping (or failing, when required). */
export async function launchBrowser (t: Tap): Promise<Browser | undefined> {
  const executablePath = findChromium()
  if (executablePath === undefined) {
    const msg = 'no Chromium found (/usr/bin/chromium; install Debian\'s `chromium` or set HUB_CHROMIUM_PATH): browser tests skipped'
    if (process.env.HUB_REQUIRE_BROWSER === '1') t.fail(`${msg}, but HUB_REQUIRE_BROWSER=1`)
    else t.pass('browser tests', { skip: msg })
    return undefined
  }
  const browser = await chromium.launch({
    executablePath,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-dev-shm-usage']
  })
  t.teardown(() => browser.close())
  return browser
}

export interface PanelPage {
  page: Page
  /** Console errors, page errors and failed requests seen so far (must stay empty). */
  problems: string[]
}

/** A fresh browser context (its own sessionStorage) on the panel at `url`. */
export async function openPanel (browser: Browser, url: string, viewport = { width: 1200, height: 900 }): Promise<PanelPage> {
  const context = await browser.newContext({ viewport })
  const page = await context.newPage()
  page.setDefaultTimeout(10_000)
  const problems: string[] = []
  page.on('console', m => { if (m.type() === 'error') problems.push(`console: ${m.text()}`) })
  page.on('pageerror', e => problems.push(`page error: ${e.message}`))
  await page.goto(url)
  return { page, problems }
}

/** Signs in through the form and waits for the servers table (or the empty state). */
export async function signIn (page: Page, username: string, password: string): Promise<void> {
  await page.getByLabel('Username').fill(username)
  await page.getByLabel('Password').fill(password)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.getByRole('heading', { name: 'Servers' }).waitFor()
  await page.locator('.conn-live').waitFor()
}

/** The status text of a server's row in the table. */
export const rowStatus = (page: Page, serverId: string) => page.locator(`tr[data-server="${serverId}"] .badge`)
