// Console lines are text: ANSI colour codes become class names on text spans, and markup in a
// line stays literal text, in the real browser (the panel's own module, loaded as the page does).
import t from 'tap'
import { startTestHub, ADMIN_PASSWORD } from '../helpers/hub.ts'
import { launchBrowser, openPanel, signIn } from './browser.ts'

t.test('ANSI colours as spans, HTML never interpreted', async t => {
  const browser = await launchBrowser(t)
  if (browser === undefined) return
  const hub = await startTestHub(t)
  const { page, problems } = await openPanel(browser, hub.url)
  await signIn(page, 'admin', ADMIN_PASSWORD)
  const segments = await page.evaluate(async () => {
    const { parseAnsi } = await import('/js/ansi.js' as string)
    return parseAnsi('\u001b[1;31merror\u001b[0m <img src=x onerror=alert(1)> \u001b[2Jdone\u0007')
  })
  t.same(segments, [
    { text: 'error', cls: 'ansi-31 ansi-bold' },
    { text: ' <img src=x onerror=alert(1)> done', cls: '' }
  ], 'SGR codes become classes; other escapes and control characters are dropped; markup stays text')
  t.same(problems, [])
})
