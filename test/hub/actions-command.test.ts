// The 1.1 action types end to end (PROTOCOL.md "New action types"): COMMAND (console input, never
// serialised with power actions, 409 unless RUNNING/STARTING, 10 s delivery timeout) and INSTALL
// (serialised like START/STOP/RESTART, superseded by KILL, its own run timeout), both gated by the
// node's latest welcome.features. Real hub, PostgreSQL, pg-boss and a raw agent socket.
import t from 'tap'
import { startTestHub, type TestHub } from '../helpers/hub.ts'
import { addNode } from '../helpers/raw-agent.ts'
import { action, agentWith, eventsOf, stateIs } from '../helpers/actions.ts'

const setFeatures = async (hub: TestHub, nodeId: string, features: string[]) =>
  await hub.app.db.pool.query('UPDATE nodes SET features = $2 WHERE id = $1', [nodeId, features])

async function post (hub: TestHub, serverId: string, body: unknown, token?: string) {
  return await hub.request('POST', `/api/servers/${serverId}/actions`, { token: token ?? await hub.adminToken(), body })
}

t.test('COMMAND round trip: input delivered, acked, resulted, in the history with its details', async t => {
  const hub = await startTestHub(t)
  const { nodeId, agentToken, servers: [s1, s2] } = await addNode(hub, 'n1', 2)
  const { agent } = await agentWith(t, hub, agentToken, { [s1!]: 'RUNNING', [s2!]: 'STOPPED' }, ['console'])
  t.same((await hub.app.db.prisma.node.findUniqueOrThrow({ where: { id: nodeId } })).features, ['console'], 'hello stored the negotiated features')

  const res = await post(hub, s1!, { action: 'COMMAND', input: 'say hello, "world" ✓' })
  t.match(res, { status: 202, body: { actionId: String, state: 'QUEUED' } })
  const cmd = await agent.next('command')
  t.match(cmd, { commandId: res.body.actionId, serverId: s1, action: 'COMMAND', input: 'say hello, "world" ✓' }, 'the command carries the input')
  const window = Date.parse(cmd.expiresAt) - Date.parse(cmd.issuedAt)
  t.ok(window >= 9_000 && window <= 10_500, `COMMAND's delivery timeout is 10 s (got ${window} ms)`)
  agent.send({ type: 'command.ack', commandId: cmd.commandId })
  agent.send({ type: 'command.result', commandId: cmd.commandId, ok: true })
  await stateIs(hub, res.body.actionId, 'SUCCEEDED')
  t.same(await eventsOf(hub, res.body.actionId), ['QUEUED', 'DISPATCHED', 'ACKED', 'SUCCEEDED'], 'the lifecycle of a power action')

  const history = await hub.request('GET', `/api/servers/${s1}/actions`, { token: await hub.adminToken() })
  t.match(history.body.items[0], { id: res.body.actionId, action: 'COMMAND', state: 'SUCCEEDED', details: { input: 'say hello, "world" ✓' } }, 'the audit trail shows the input')
  const one = await hub.request('GET', `/api/actions/${res.body.actionId}`, { token: await hub.adminToken() })
  t.same(one.body.details, { input: 'say hello, "world" ✓' })

  // Not RUNNING or STARTING: 409 with the server's status, nothing stored.
  const stopped = await post(hub, s2!, { action: 'COMMAND', input: 'list' })
  t.match(stopped, { status: 409, body: { error: { code: 'CONFLICT', status: 'STOPPED' } } })
  t.equal(await hub.app.db.prisma.serverAction.count({ where: { serverId: s2! } }), 0)
})

t.test('COMMAND is neither serialised with nor cancelled by power actions', async t => {
  const hub = await startTestHub(t)
  const { agentToken, servers: [s1] } = await addNode(hub, 'n1')
  const { agent } = await agentWith(t, hub, agentToken, { [s1!]: 'RUNNING' }, ['console'])

  const restart = await post(hub, s1!, { action: 'RESTART' })
  t.equal(restart.status, 202)
  await agent.next('command') // never acked: RESTART stays live
  const cmds = await Promise.all([1, 2, 3].map(async n => await post(hub, s1!, { action: 'COMMAND', input: `say ${n}` })))
  t.same(cmds.map(r => r.status), [202, 202, 202], 'console input while a RESTART is live, and several at once')
  t.match(await post(hub, s1!, { action: 'STOP' }), { status: 409, body: { error: { actionId: restart.body.actionId } } }, 'a STOP is still blocked by the RESTART, not by the COMMANDs')
  const kill = await post(hub, s1!, { action: 'KILL' })
  t.equal(kill.status, 202)
  await stateIs(hub, restart.body.actionId, 'CANCELLED')
  for (const c of cmds) t.not((await action(hub, c.body.actionId)).state, 'CANCELLED', 'KILL does not cancel console input')
})

t.test('bad input and permissions', async t => {
  const hub = await startTestHub(t)
  const admin = await hub.adminToken()
  const { agentToken, servers: [s1] } = await addNode(hub, 'n1')
  await agentWith(t, hub, agentToken, { [s1!]: 'RUNNING' }, ['console'])
  const bad: Array<[unknown, string]> = [
    [{ action: 'COMMAND' }, 'COMMAND without input'],
    [{ action: 'START', input: 'x' }, 'input on another type'],
    [{ action: 'COMMAND', input: '' }, 'empty input'],
    [{ action: 'COMMAND', input: 'x'.repeat(1025) }, '1,025 characters'],
    [{ action: 'COMMAND', input: 'a\nb' }, 'LF'],
    [{ action: 'COMMAND', input: 'a\rb' }, 'CR'],
    [{ action: 'COMMAND', input: 'a\u0000b' }, 'NUL'],
    [{ action: 'COMMAND', input: 'a\ud800b' }, 'a lone surrogate'],
    [{ action: 'COMMAND', input: 42 }, 'not a string']
  ]
  for (const [body, why] of bad) t.match(await post(hub, s1!, body), { status: 400, body: { error: { code: 'BAD_REQUEST' } } }, why)
  t.equal(await hub.app.db.prisma.serverAction.count(), 0, 'nothing stored for refused input')
  t.equal((await post(hub, s1!, { action: 'COMMAND', input: 'x'.repeat(1024) })).status, 202, '1,024 characters are accepted')

  // servers.control is not enough for console input: servers.console (or ownership) is.
  const user = await hub.request('POST', '/api/users', { token: admin, body: { username: 'user1', email: 'user1@example.test', password: 'password-u1' } })
  for (const permission of ['servers.view', 'servers.control']) await hub.request('POST', `/api/users/${user.body.id}/permissions`, { token: admin, body: { permission } })
  const token = await hub.login('user1', 'password-u1')
  t.match(await post(hub, s1!, { action: 'COMMAND', input: 'op me' }, token), { status: 403, body: { error: { code: 'FORBIDDEN' } } })
  t.equal((await hub.request('POST', `/api/users/${user.body.id}/permissions`, { token: admin, body: { permission: 'servers.console' } })).status, 201, 'servers.console is seeded')
  const sent = await post(hub, s1!, { action: 'COMMAND', input: 'op me' }, token)
  t.equal(sent.status, 202)

  // What was typed is read with console rights only: a viewer sees that a COMMAND ran, not what.
  const viewer = await hub.request('POST', '/api/users', { token: admin, body: { username: 'viewer1', email: 'viewer1@example.test', password: 'password-v1' } })
  await hub.request('POST', `/api/users/${viewer.body.id}/permissions`, { token: admin, body: { permission: 'servers.view' } })
  const viewerToken = await hub.login('viewer1', 'password-v1')
  t.match((await hub.request('GET', `/api/actions/${sent.body.actionId}`, { token })).body, { action: 'COMMAND', details: { input: 'op me' } }, 'console rights read the input')
  t.match((await hub.request('GET', `/api/actions/${sent.body.actionId}`, { token: viewerToken })).body, { action: 'COMMAND', details: null }, 'a viewer does not')
  const listed = (await hub.request('GET', `/api/servers/${s1!}/actions`, { token: viewerToken })).body.items
  t.ok(listed.length > 0 && listed.every((a: { details: unknown }) => a.details === null), 'nor in the history')
})

t.test('features: refused without them; queued ones fail unsent when the node comes back without them', async t => {
  const hub = await startTestHub(t)
  const { nodeId, agentToken, servers: [s1, s2] } = await addNode(hub, 'n1', 2)
  await hub.app.db.pool.query("UPDATE servers SET status = 'RUNNING' WHERE id = $1", [s1])
  t.match(await post(hub, s1!, { action: 'COMMAND', input: 'list' }), { status: 409, body: { error: { code: 'FEATURE_UNSUPPORTED' } } }, 'a node that never negotiated console')
  t.match(await post(hub, s2!, { action: 'INSTALL' }), { status: 409, body: { error: { code: 'FEATURE_UNSUPPORTED' } } }, 'nor provision')

  // Queued while the node (offline) had negotiated both; it comes back as a v1 agent.
  await setFeatures(hub, nodeId, ['console', 'provision'])
  const cmd = await post(hub, s1!, { action: 'COMMAND', input: 'list' })
  const install = await post(hub, s2!, { action: 'INSTALL' })
  t.same([cmd.status, install.status], [202, 202])
  t.match(await post(hub, s2!, { action: 'START' }), { status: 409, body: { error: { actionId: install.body.actionId } } }, 'INSTALL is serialised like START')
  await setFeatures(hub, nodeId, [])
  const { agent } = await agentWith(t, hub, agentToken, { [s1!]: 'RUNNING', [s2!]: 'STOPPED' })
  for (const id of [cmd.body.actionId, install.body.actionId]) {
    t.match(await stateIs(hub, id, 'FAILED'), { errorCode: 'FEATURE_UNSUPPORTED', dispatchedAt: null }, 'FAILED without being sent')
    t.same(await eventsOf(hub, id), ['QUEUED', 'FAILED'])
  }
  t.notOk(agent.inbox.some(m => m.type === 'command'), 'the agent got no command')
})

t.test('INSTALL: superseded by KILL, and its own run timeout', async t => {
  const hub = await startTestHub(t, { actionInstallTimeoutMs: 1_800_000, actionRunTimeoutMs: 120_000 })
  const { nodeId, agentToken, servers: [s1, s2] } = await addNode(hub, 'n1', 2)
  const { agent } = await agentWith(t, hub, agentToken, { [s1!]: 'STOPPED', [s2!]: 'STOPPED' })
  await setFeatures(hub, nodeId, ['provision'])
  const install = await post(hub, s1!, { action: 'INSTALL' })
  const start = await post(hub, s2!, { action: 'START' })
  // This hub does not enable provision yet, so the INSTALL is never sent to this connection (it
  // did not negotiate it); it was claimed at creation all the same, and the ack moves it.
  await agent.next(m => m.type === 'command' && m.commandId === start.body.actionId)
  for (const id of [install.body.actionId, start.body.actionId]) agent.send({ type: 'command.ack', commandId: id })
  const acked = await stateIs(hub, install.body.actionId, 'ACKED')
  const started = await stateIs(hub, start.body.actionId, 'ACKED')
  const runOf = (a: typeof acked) => (a.deadlineAt as Date).getTime() - (a.ackedAt as Date).getTime()
  t.ok(Math.abs(runOf(acked) - 1_800_000) < 2_000, `INSTALL runs up to HUB_ACTION_INSTALL_TIMEOUT_MS (${runOf(acked)} ms)`)
  t.ok(Math.abs(runOf(started) - 120_000) < 2_000, `START keeps HUB_ACTION_RUN_TIMEOUT_MS (${runOf(started)} ms)`)
  t.equal((await post(hub, s1!, { action: 'KILL' })).status, 202)
  t.match(await stateIs(hub, install.body.actionId, 'CANCELLED'), { errorMessage: 'superseded by KILL' })
})
