// A template's doneRegex with catastrophic backtracking cannot stall the agent: lines are cut before
// matching, each batch is matched under a time limit and a start's matching under a total budget;
// past them the regex is abandoned and the server counts as RUNNING with a reason saying why.
import t from 'tap'
import { DONE_BATCH_TIMEOUT_MS, MAX_DONE_LINE_CHARS, compileDoneRegex } from '../../src/agent/done-regex.ts'
import { createTestNode, gameConfig, run } from './helpers.ts'

const EVIL = '^(a+)+$'
/** Backtracks about 2^40 steps with EVIL: hours, unbounded. */
const EVIL_LINE = `${'a'.repeat(40)}!`

t.test('matching is bounded: a catastrophic pattern is abandoned after the batch timeout', async (t) => {
  const compiled = compileDoneRegex(EVIL)
  if (!compiled.ok) throw new Error(compiled.reason)
  const started = performance.now()
  const result = compiled.matcher.test(['starting', EVIL_LINE])
  const took = performance.now() - started
  t.match(result, { matched: false, abandoned: /took over 50 ms \(catastrophic backtracking\?\)/ })
  t.ok(took < DONE_BATCH_TIMEOUT_MS + 1_000, `returned after ${Math.round(took)} ms`)
  t.match(compiled.matcher.test(['aaa']), { abandoned: /abandoned/ }, 'once abandoned, it stays abandoned (and costs nothing)')
})

t.test('ordinary patterns match; lines are cut before matching; bad ones do not compile', async (t) => {
  const done = compileDoneRegex('\\)! For help, type ')
  if (!done.ok) throw new Error(done.reason)
  t.same(done.matcher.test(['[12:00:00] Starting', '[12:00:05] Done (4.2s)! For help, type "help"']), { matched: true })
  t.same(done.matcher.test(['nothing here']), { matched: false })
  const tail = compileDoneRegex('x$')
  if (!tail.ok) throw new Error(tail.reason)
  t.same(tail.matcher.test([`${'a'.repeat(MAX_DONE_LINE_CHARS - 1)}x`]), { matched: true })
  t.same(tail.matcher.test([`${'a'.repeat(MAX_DONE_LINE_CHARS)}x`]), { matched: false }, `only the first ${MAX_DONE_LINE_CHARS} characters are matched`)
  t.match(compileDoneRegex('(unclosed'), { ok: false, reason: /^doneRegex does not compile: / })
})

t.test('many slow batches exhaust the total budget', async (t) => {
  const compiled = compileDoneRegex(EVIL)
  if (!compiled.ok) throw new Error(compiled.reason)
  // Each batch backtracks a few milliseconds (2^20 steps), under the batch timeout.
  const batch = [`${'a'.repeat(20)}!`]
  let result = compiled.matcher.test(batch)
  for (let i = 0; i < 5_000 && result.abandoned === undefined; i++) result = compiled.matcher.test(batch)
  t.match(result.abandoned, /^doneRegex abandoned: matching (the output took over 1000 ms in all|one batch of output took over 50 ms)/)
})

// Without the bound, matching EVIL_LINE blocks the event loop for hours: this test then never ends
// (tap's timeout fails it).
t.test('a game whose output meets a catastrophic doneRegex: RUNNING, with the reason', async (t) => {
  const node = createTestNode(t)
  const config = gameConfig({ startup: `echo '${EVIL_LINE}'; echo 'Done ('; exec sleep 600`, doneRegex: EVIL })
  node.supervisor.applyConfig(config)
  t.same(await run(node, config.serverId, 'START'), { ok: true })
  t.match((await node.waitStatus(config.serverId, 'RUNNING')).reason, /^running; doneRegex abandoned: matching one batch of output took over 50 ms/)
  t.same(await run(node, config.serverId, 'KILL'), { ok: true })
  await node.waitStatus(config.serverId, 'STOPPED')
})
