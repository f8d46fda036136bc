// The supervisor with real child processes (test/fixtures/game-server.sh): status follows the
// process, console input through the FIFO, stop sequences, crash policy.
import t from 'tap'
import { createTestNode, gameConfig, run } from './helpers.ts'

t.test('start -> RUNNING on Done -> command echoed -> stop -> STOPPED', async (t) => {
  const node = createTestNode(t)
  const config = gameConfig()
  t.ok(node.supervisor.applyConfig(config).ok)
  t.same(node.supervisor.snapshot(), [{ serverId: config.serverId, status: 'STOPPED', seq: 0, configRevision: 1 }])
  const started = await run(node, config.serverId, 'START')
  t.same(started, { ok: true }, 'START answers once RUNNING')
  t.same(node.statuses.items.map((s) => s.status), ['STARTING', 'RUNNING'])
  await node.waitLine(config.serverId, /^Fixture game server \d+ starting on port 25565/)
  t.same(await run(node, config.serverId, 'START'), { ok: false, error: { code: 'ALREADY_RUNNING', message: 'the server is RUNNING' } })
  t.same(await run(node, config.serverId, 'COMMAND', 'say hello'), { ok: true })
  await node.waitLine(config.serverId, /^echo: say hello$/)
  t.same(await run(node, config.serverId, 'STOP'), { ok: true })
  const stopped = await node.waitStatus(config.serverId, 'STOPPED')
  t.match(stopped.reason, /stopped \(exited with code 0\)/)
  t.same(node.statuses.items.map((s) => s.status), ['STARTING', 'RUNNING', 'STOPPING', 'STOPPED'])
  t.same(node.statuses.items.map((s) => s.seq), [1, 2, 3, 4], 'seq strictly increases')
  t.same(await run(node, config.serverId, 'COMMAND', 'x'), { ok: false, error: { code: 'NOT_RUNNING', message: 'the server is STOPPED' } })
  t.same(await run(node, config.serverId, 'STOP'), { ok: false, error: { code: 'NOT_RUNNING', message: 'the server is STOPPED' } })
})

t.test('typing stop in the console is a normal stop; crash is CRASHED with its code', async (t) => {
  const node = createTestNode(t)
  const config = gameConfig()
  node.supervisor.applyConfig(config)
  await run(node, config.serverId, 'START')
  await run(node, config.serverId, 'COMMAND', 'stop')
  t.match((await node.waitStatus(config.serverId, 'STOPPED')).reason, /^exited with code 0$/)
  await run(node, config.serverId, 'START')
  await run(node, config.serverId, 'COMMAND', 'crash')
  t.match((await node.waitStatus(config.serverId, 'CRASHED')).reason, /^exited with code 3$/)
})

t.test('no doneRegex: RUNNING at once; a signal stop; the game environment is minimal', async (t) => {
  const node = createTestNode(t)
  const { doneRegex: _unused, ...rest } = gameConfig({ stop: { type: 'signal', value: 'SIGINT', graceS: 5 }, environment: { DONE_DELAY: '0.1', GAME_MODE: 'x y' } })
  node.supervisor.applyConfig(rest)
  process.env.AGENT_TOKEN = 'secret-token-of-the-agent'
  t.teardown(() => { delete process.env.AGENT_TOKEN })
  t.same(await run(node, rest.serverId, 'START'), { ok: true })
  t.same(node.statuses.items.map((s) => s.status), ['STARTING', 'RUNNING'])
  await node.waitLine(rest.serverId, /^Done/)
  t.same(await run(node, rest.serverId, 'COMMAND', 'env'), { ok: true })
  await node.waitLine(rest.serverId, /^SERVER_PORT=/)
  const env = node.lines.items.map((l) => l.line).filter((l) => /^[A-Z_]+=/.test(l)).map((l) => l.split('=')[0])
  // sh itself adds PWD (and may add SHLVL/OLDPWD); tap's coverage hook injects NODE_OPTIONS and
  // _TAPJS_* into every child process a test spawns. Nothing of the agent's environment gets through.
  t.notOk(env.includes('AGENT_TOKEN'), 'never the agent token')
  const ours = env.filter((n) => !['PWD', 'SHLVL', 'OLDPWD', '_', 'NODE_OPTIONS'].includes(n as string) && !(n as string).startsWith('_TAPJS_'))
  t.same(ours.sort(), ['DONE_DELAY', 'GAME_MODE', 'HOME', 'LANG', 'PATH', 'SERVER_PORT'])
  t.ok(node.lines.items.some((l) => l.line === `HOME=${node.supervisor.workDir(rest.serverId)}`))
  t.same(await run(node, rest.serverId, 'STOP'), { ok: true })
  t.match((await node.waitStatus(rest.serverId, 'STOPPED')).reason, /SIGINT/)
})

t.test('KILL ends the group at once; a start that fails is CRASHED with a reason', async (t) => {
  const node = createTestNode(t)
  const config = gameConfig({ environment: { DONE_DELAY: '0.1', IGNORE_TERM: '1' } })
  node.supervisor.applyConfig(config)
  await run(node, config.serverId, 'START')
  t.same(await run(node, config.serverId, 'KILL'), { ok: true })
  t.equal((await node.waitStatus(config.serverId, 'STOPPED')).reason, 'killed on request')

  const missing = gameConfig({ startup: '/nonexistent/game --nogui' })
  node.supervisor.applyConfig(missing)
  const outcome = await run(node, missing.serverId, 'START')
  t.equal(outcome.error?.code, 'SPAWN_FAILED')
  t.match((await node.waitStatus(missing.serverId, 'CRASHED')).reason, /code 127 \(command not found\)/)

  const badRegex = gameConfig({ doneRegex: '(unclosed' })
  node.supervisor.applyConfig(badRegex)
  const refused = await run(node, badRegex.serverId, 'START')
  t.equal(refused.error?.code, 'SPAWN_FAILED')
  t.match((await node.waitStatus(badRegex.serverId, 'CRASHED')).reason, /doneRegex does not compile/)

  t.same((await run(node, '00000000-0000-4000-8000-00000000ffff', 'START')).error?.code, 'NO_CONFIG')
  t.same((await run(node, config.serverId, 'DANCE')).error?.code, 'FEATURE_UNSUPPORTED')
})

t.test('a game that ignores SIGTERM is SIGKILLed after the grace and the kill delay', async (t) => {
  const node = createTestNode(t, { timing: { killAfterTermMs: 300 } })
  const config = gameConfig({ stop: { type: 'signal', value: 'SIGTERM', graceS: 1 }, environment: { DONE_DELAY: '0.1', IGNORE_TERM: '1' } })
  node.supervisor.applyConfig(config)
  await run(node, config.serverId, 'START')
  const began = Date.now()
  t.same(await run(node, config.serverId, 'STOP'), { ok: true })
  t.ok(Date.now() - began >= 1_200, 'waited out the grace and the kill delay')
  t.match((await node.waitStatus(config.serverId, 'STOPPED')).reason, /SIGKILL/)
})

t.test('crash -> CRASHED -> automatic restart; a crash loop stays CRASHED', async (t) => {
  const node = createTestNode(t)
  const config = gameConfig({ autoRestart: { enabled: true, maxRestarts: 2, windowS: 60 } })
  node.supervisor.applyConfig(config)
  await run(node, config.serverId, 'START')
  let after = 0
  for (let i = 0; i < 3; i++) {
    const running = await node.waitStatus(config.serverId, 'RUNNING', after)
    t.same(await run(node, config.serverId, 'COMMAND', 'crash'), { ok: true })
    after = (await node.waitStatus(config.serverId, 'CRASHED', running.seq)).seq
  }
  // The guard refused a third restart: nothing follows the last CRASHED.
  await new Promise((resolve) => setTimeout(resolve, 300))
  const last = node.statuses.items.at(-1)
  t.equal(last?.status, 'CRASHED')
  t.match(last?.reason, /exited with code 3; crash loop: 2 automatic restarts within 60 s, not restarting/)
  t.same(node.statuses.items.map((s) => s.status), [
    'STARTING', 'RUNNING', 'CRASHED', 'STARTING', 'RUNNING', 'CRASHED', 'STARTING', 'RUNNING', 'CRASHED'
  ])
})

t.test('INSTALL runs the install script with its output on the console', async (t) => {
  const node = createTestNode(t)
  const config = gameConfig({ install: 'echo "installing into $(pwd)"; echo data > server.properties' })
  node.supervisor.applyConfig(config)
  t.same(await run(node, config.serverId, 'INSTALL'), { ok: true })
  await node.waitLine(config.serverId, /^installing into .*\/servers\//)
  t.same(node.statuses.items.map((s) => s.status), ['INSTALLING', 'STOPPED'])
  const failing = gameConfig({ install: 'echo broken; exit 4' })
  node.supervisor.applyConfig(failing)
  const outcome = await run(node, failing.serverId, 'INSTALL')
  t.equal(outcome.error?.code, 'INSTALL_FAILED')
  t.match(outcome.error?.message, /install failed: exited with code 4/)
})

t.test('RESTART stops then starts; STOP while STARTING fails the START', async (t) => {
  const node = createTestNode(t)
  const config = gameConfig({ environment: { DONE_DELAY: '1' } })
  node.supervisor.applyConfig(config)
  await run(node, config.serverId, 'START')
  t.same(await run(node, config.serverId, 'RESTART'), { ok: true })
  t.same(node.statuses.items.map((s) => s.status), ['STARTING', 'RUNNING', 'STOPPING', 'STOPPED', 'STARTING', 'RUNNING'])
  await run(node, config.serverId, 'STOP')
  const start = run(node, config.serverId, 'START')
  await node.waitStatus(config.serverId, 'STARTING', 7)
  t.same(await run(node, config.serverId, 'STOP'), { ok: true })
  t.match(await start, { ok: false, error: { code: 'SPAWN_FAILED' } })
  t.same(node.statuses.items.slice(-3).map((s) => s.status), ['STARTING', 'STOPPING', 'STOPPED'])
})
