// Power actions end to end: real hub, real PostgreSQL, pg-boss, agents over real WebSockets.
import t from 'tap'
import { createAgentClient } from '../../agent-simulator/agent-client.ts'
import { buildHub } from '../../src/hub/build-hub.ts'
import { loadConfig } from '../../src/hub/config.ts'
import { startTestHub, testAgentTokens, type TestHub } from '../helpers/hub.ts'
import { addNode, connectRaw, hello } from '../helpers/raw-agent.ts'
import { action, eventsOf, stateIs } from '../helpers/actions.ts'

const wsUrl = (hub: { url: string }) => hub.url.replace('http', 'ws') + '/agent/v1'

const jobOf = async (hub: TestHub, id: string) => (await hub.app.db.pool.query('SELECT state FROM pgboss.job WHERE id = $1', [id])).rows[0]?.state

async function post (hub: TestHub, serverId: string, body: unknown, token?: string) {
  return await hub.request('POST', `/api/servers/${serverId}/actions`, { token: token ?? await hub.adminToken(), body })
}

t.test('the whole lifecycle: 202, command, ack, result, SUCCEEDED, with events and the job settled', async t => {
  const hub = await startTestHub(t)
  const { agentToken, servers: [s1] } = await addNode(hub, 'n1')
  const commands: any[] = []
  const agent = createAgentClient({ url: wsUrl(hub), token: agentToken, servers: [{ serverId: s1 as string, status: 'STOPPED', seq: 0 }], onCommand: cmd => { commands.push(cmd); return { ok: true } } })
  t.teardown(() => agent.close())
  await agent.connect()

  const res = await post(hub, s1 as string, { action: 'START' })
  t.equal(res.status, 202)
  t.equal(res.body.state, 'QUEUED')
  const done = await stateIs(hub, res.body.actionId, 'SUCCEEDED')
  t.equal(commands.length, 1, 'the agent ran it once')
  t.match(commands[0], { type: 'command', commandId: res.body.actionId, serverId: s1, action: 'START', issuedAt: String, expiresAt: String })
  t.ok(Date.parse(commands[0].expiresAt) - Date.parse(commands[0].issuedAt) >= 59_000, 'expiresAt is the 60 s default delivery deadline')
  t.ok(done.dispatchedAt !== null && done.ackedAt !== null && done.completedAt !== null)
  t.equal(done.deadlineAt, null)
  t.same(await eventsOf(hub, res.body.actionId), ['QUEUED', 'DISPATCHED', 'ACKED', 'SUCCEEDED'], 'one event per state, in order')
  t.equal(await jobOf(hub, res.body.actionId), 'completed', 'the pg-boss job was completed to match')

  const one = await hub.request('GET', `/api/actions/${res.body.actionId}`, { token: await hub.adminToken() })
  t.match(one, { status: 200, body: { id: res.body.actionId, serverId: s1, action: 'START', state: 'SUCCEEDED' } })
  t.notOk('server' in one.body)

  // A failing command ends FAILED with the agent's error.
  const failing = createAgentClient({ url: wsUrl(hub), token: agentToken, servers: [{ serverId: s1 as string, status: 'STOPPED', seq: 0 }], onCommand: () => ({ ok: false, error: { code: 'DOCKER', message: 'no such container' } }) })
  await agent.close()
  t.teardown(() => failing.close())
  await failing.connect()
  const stop = await post(hub, s1 as string, { action: 'STOP' })
  const failed = await stateIs(hub, stop.body.actionId, 'FAILED')
  t.match(failed, { errorCode: 'DOCKER', errorMessage: 'no such container' })
  t.equal(await jobOf(hub, stop.body.actionId), 'completed')
  const ev = (await hub.app.db.pool.query("SELECT data FROM events WHERE data->>'actionId' = $1 AND data->>'state' = 'FAILED'", [stop.body.actionId])).rows[0]
  t.same(ev.data.error, { code: 'DOCKER', message: 'no such container' }, 'the event carries the error')
})

t.test('bad input: unknown action, unknown server, malformed body, no access', async t => {
  const hub = await startTestHub(t)
  const admin = await hub.adminToken()
  const { servers: [s1] } = await addNode(hub, 'n1')
  t.match(await post(hub, s1 as string, { action: 'EXPLODE' }), { status: 400, body: { error: { code: 'BAD_REQUEST' } } }, 'unknown action type')
  t.match(await post(hub, s1 as string, { action: 'START', extra: 1 }), { status: 400 }, 'extra property')
  t.match(await post(hub, s1 as string, {}), { status: 400 }, 'no action')
  t.match(await post(hub, s1 as string, { action: 'START', idempotencyKey: '' }), { status: 400 }, 'empty key')
  t.match(await hub.request('POST', `/api/servers/${s1}/actions`, { token: admin, body: '{"action":', headers: { 'content-type': 'application/json' } }).catch(() => ({ status: 400 })), { status: 400 })
  const raw = await fetch(`${hub.url}/api/servers/${s1}/actions`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: '{"action":' })
  t.equal(raw.status, 400, 'malformed JSON')
  t.match(await post(hub, '00000000-0000-4000-8000-000000000000', { action: 'START' }), { status: 404, body: { error: { code: 'NOT_FOUND' } } }, 'unknown server')
  t.match(await post(hub, 'not-a-uuid', { action: 'START' }), { status: 400 }, 'malformed id')
  t.match(await hub.request('GET', '/api/actions/00000000-0000-4000-8000-000000000000', { token: admin }), { status: 404 })
  t.equal((await hub.request('POST', `/api/servers/${s1}/actions`, { body: { action: 'START' } })).status, 401, 'no session')

  // A plain user: 404 (not 403) for a server they cannot see; 403 once they may view but not control.
  const user = await hub.request('POST', '/api/users', { token: admin, body: { username: 'user1', email: 'user1@example.test', password: 'password-u1' } })
  t.equal(user.status, 201, JSON.stringify(user.body))
  const token = await hub.login('user1', 'password-u1')
  t.match(await post(hub, s1 as string, { action: 'START' }, token), { status: 404 }, 'existence does not leak')
  t.match(await hub.request('GET', `/api/servers/${s1}/actions`, { token }), { status: 404 })
  await hub.request('POST', `/api/users/${user.body.id}/permissions`, { token: admin, body: { permission: 'servers.view' } })
  t.match(await post(hub, s1 as string, { action: 'START' }, token), { status: 403, body: { error: { code: 'FORBIDDEN' } } })
  t.match(await hub.request('GET', `/api/servers/${s1}/actions`, { token }), { status: 200, body: { items: [], next: null } })
  // The owner may control their own server without any permission.
  const { servers: [own] } = await addNode(hub, 'n2', 1, user.body.id)
  await hub.request('DELETE', `/api/users/${user.body.id}/permissions/servers.view`, { token: admin })
  t.match(await post(hub, own as string, { action: 'START' }, token), { status: 202 })
  t.equal(await hub.app.db.prisma.serverAction.count({ where: { serverId: s1 } }), 0, 'nothing was written for refused requests')
})

t.test('conflicts are refused by the database; idempotency keys; KILL supersedes', async t => {
  const hub = await startTestHub(t, { actionServerBurst: 100 }) // more than the default 10 actions per server at once
  const { servers: [s1, s2] } = await addNode(hub, 'offline', 2) // never connects: actions stay QUEUED
  const start = await post(hub, s1 as string, { action: 'START', idempotencyKey: 'k1' })
  t.equal(start.status, 202)
  const again = await post(hub, s1 as string, { action: 'START', idempotencyKey: 'k1' })
  t.same(again, { status: 202, body: { actionId: start.body.actionId, state: 'QUEUED' } }, 'a repeated key returns the first action')
  const stop = await post(hub, s1 as string, { action: 'STOP' })
  t.match(stop, { status: 409, body: { error: { code: 'CONFLICT', actionId: start.body.actionId } } }, '409 names the blocking action')
  t.match(await post(hub, s2 as string, { action: 'STOP' }), { status: 202 }, 'another server is independent')

  // Many concurrent STARTs on one server: exactly one wins.
  const burst = await Promise.all(Array.from({ length: 10 }, async () => await post(hub, s2 as string, { action: 'RESTART' })))
  t.equal(burst.filter(r => r.status === 202).length, 0, 'the live STOP on s2 blocks all of them')
  t.equal(burst.filter(r => r.status === 409).length, 10)

  const kill = await post(hub, s1 as string, { action: 'KILL' })
  t.equal(kill.status, 202, 'KILL is accepted while START is live')
  const cancelled = await action(hub, start.body.actionId)
  t.match(cancelled, { state: 'CANCELLED', errorCode: 'SUPERSEDED' })
  t.same(await eventsOf(hub, start.body.actionId), ['QUEUED', 'CANCELLED'])
  t.equal(await jobOf(hub, start.body.actionId), 'cancelled')
  t.same(await post(hub, s1 as string, { action: 'KILL' }), { status: 202, body: { actionId: kill.body.actionId, state: 'QUEUED' } }, 'a second KILL while the first is live: the live one (coalesced)')
  t.match(await post(hub, s1 as string, { action: 'START' }), { status: 202 }, 'START is allowed again once the old one is final')
  const list = await hub.request('GET', `/api/servers/${s1}/actions?limit=2`, { token: await hub.adminToken() })
  t.equal(list.body.items.length, 2)
  t.same(list.body.items.map((a: any) => a.action), ['START', 'KILL'], 'newest first, one KILL')
  const page2 = await hub.request('GET', `/api/servers/${s1}/actions?limit=2&before=${list.body.next}`, { token: await hub.adminToken() })
  t.same(page2.body.items.map((a: any) => a.action), ['START'])
  t.equal(page2.body.next, null)
  t.match(await hub.request('GET', `/api/servers/${s1}/actions?limit=0`, { token: await hub.adminToken() }), { status: 400 })
})

t.test('offline node: delivered right after welcome; expired ones are not, and replies to them are ignored', async t => {
  const hub = await startTestHub(t, { actionDeliverTimeoutMs: 400 })
  const { agentToken, servers: [s1, s2] } = await addNode(hub, 'n1', 2)
  const expired = await post(hub, s2 as string, { action: 'START' })
  await stateIs(hub, expired.body.actionId, 'EXPIRED')
  t.match(await action(hub, expired.body.actionId), { errorCode: 'DELIVERY_TIMEOUT' })
  t.equal(await jobOf(hub, expired.body.actionId), 'completed')
  const waiting = await post(hub, s1 as string, { action: 'START' })

  const agent = await connectRaw(hub, agentToken)
  t.teardown(() => agent.close())
  await hello(agent, [s1 as string, s2 as string])
  const cmd = await agent.next('command')
  t.equal(cmd.commandId, waiting.body.actionId, 'the waiting command, right after welcome')
  agent.send({ type: 'command.ack', commandId: cmd.commandId })
  agent.send({ type: 'command.result', commandId: cmd.commandId, ok: true })
  await stateIs(hub, cmd.commandId, 'SUCCEEDED')
  // A result for the expired command (never sent): ignored, nothing moves.
  agent.send({ type: 'command.result', commandId: expired.body.actionId, ok: true })
  agent.send({ type: 'command.ack', commandId: cmd.commandId })
  agent.send({ type: 'command.result', commandId: cmd.commandId, ok: false })
  agent.send({ type: 'command.result', commandId: '00000000-0000-4000-8000-000000000000', ok: true })
  t.match(await agent.next('error'), { code: 'UNKNOWN_COMMAND', ref: '00000000-0000-4000-8000-000000000000' }, 'only the unknown one gets an error')
  t.equal(agent.inbox.filter(m => m.type === 'command').length, 0, 'the expired command was never sent')
  t.equal((await action(hub, expired.body.actionId)).state, 'EXPIRED', 'a result after expiry moves nothing')
  t.equal((await action(hub, cmd.commandId)).state, 'SUCCEEDED', 'late duplicates move nothing back')
  t.same(await eventsOf(hub, cmd.commandId), ['QUEUED', 'DISPATCHED', 'ACKED', 'SUCCEEDED'])
})

t.test('a command dispatched but not acked, or acked without a result, when the connection drops is redelivered after reconnect', async t => {
  const hub = await startTestHub(t)
  const { agentToken, servers: [s1] } = await addNode(hub, 'n1')
  let agent = await connectRaw(hub, agentToken)
  await hello(agent, [s1 as string])
  const res = await post(hub, s1 as string, { action: 'RESTART' })
  const first = await agent.next('command')
  t.equal(first.commandId, res.body.actionId)
  await stateIs(hub, res.body.actionId, 'DISPATCHED')
  await agent.close()
  agent = await connectRaw(hub, agentToken)
  t.teardown(() => agent.close())
  await hello(agent, [s1 as string])
  const again = await agent.next('command')
  t.same(again, first, 'the same command, the same id')
  agent.send({ type: 'command.ack', commandId: again.commandId })
  agent.send({ type: 'command.result', commandId: again.commandId, ok: true })
  await stateIs(hub, again.commandId, 'SUCCEEDED')
  t.same(await eventsOf(hub, again.commandId), ['QUEUED', 'DISPATCHED', 'ACKED', 'SUCCEEDED'], 'one final result')

  // Acked, and the connection drops before the result is recorded: sent again, so the agent can
  // answer with the result it has.
  const stop = await post(hub, s1 as string, { action: 'STOP' })
  const cmd = await agent.next('command')
  agent.send({ type: 'command.ack', commandId: cmd.commandId })
  await stateIs(hub, stop.body.actionId, 'ACKED')
  await agent.close()
  const third = await connectRaw(hub, agentToken)
  t.teardown(() => third.close())
  await hello(third, [s1 as string])
  t.equal((await third.next('command')).commandId, stop.body.actionId, 'an ACKED command is sent again too')
  third.send({ type: 'command.ack', commandId: stop.body.actionId })
  third.send({ type: 'command.result', commandId: stop.body.actionId, ok: true })
  await stateIs(hub, stop.body.actionId, 'SUCCEEDED')
  t.same(await eventsOf(hub, stop.body.actionId), ['QUEUED', 'DISPATCHED', 'ACKED', 'SUCCEEDED'])
})

t.test('ack timeout → EXPIRED, run timeout → FAILED; late replies are ignored', async t => {
  const hub = await startTestHub(t, { actionAckTimeoutMs: 300, actionRunTimeoutMs: 300 })
  const { agentToken, servers: [s1, s2] } = await addNode(hub, 'n1', 2)
  const agent = await connectRaw(hub, agentToken)
  t.teardown(() => agent.close())
  await hello(agent, [s1 as string, s2 as string])
  const noAck = await post(hub, s1 as string, { action: 'START' })
  await agent.next('command')
  const expired = await stateIs(hub, noAck.body.actionId, 'EXPIRED')
  t.equal(expired.errorCode, 'ACK_TIMEOUT')
  agent.send({ type: 'command.ack', commandId: noAck.body.actionId })

  const noResult = await post(hub, s2 as string, { action: 'STOP' })
  const cmd = await agent.next('command')
  agent.send({ type: 'command.ack', commandId: cmd.commandId })
  // ACKED lasts only the run timeout (300 ms), too short to poll for on a loaded machine; the
  // event history below proves the action went through it.
  const failed = await stateIs(hub, noResult.body.actionId, 'FAILED')
  t.equal(failed.errorCode, 'RUN_TIMEOUT')
  agent.send({ type: 'command.result', commandId: cmd.commandId, ok: true })
  agent.send({ type: 'command.result', commandId: noAck.body.actionId, ok: true })
  // A frame after them proves they were handled (one lane per node, in order).
  agent.send({ type: 'command.ack', commandId: '00000000-0000-4000-8000-000000000001' })
  t.match(await agent.next('error'), { code: 'UNKNOWN_COMMAND', ref: '00000000-0000-4000-8000-000000000001' })
  t.equal((await action(hub, cmd.commandId)).state, 'FAILED')
  t.equal((await action(hub, noAck.body.actionId)).state, 'EXPIRED')
  t.same(await eventsOf(hub, noAck.body.actionId), ['QUEUED', 'DISPATCHED', 'EXPIRED'])
  t.same(await eventsOf(hub, cmd.commandId), ['QUEUED', 'DISPATCHED', 'ACKED', 'FAILED'])
})

t.test("a reply for another node's command is UNKNOWN_COMMAND and moves nothing", async t => {
  const hub = await startTestHub(t)
  const a = await addNode(hub, 'a')
  const b = await addNode(hub, 'b')
  const agentA = await connectRaw(hub, a.agentToken)
  const agentB = await connectRaw(hub, b.agentToken)
  t.teardown(async () => { await agentA.close(); await agentB.close() })
  await hello(agentA, a.servers)
  await hello(agentB, b.servers)
  const res = await post(hub, a.servers[0] as string, { action: 'START' })
  await agentA.next('command')
  agentB.send({ type: 'command.ack', commandId: res.body.actionId })
  t.match(await agentB.next('error'), { code: 'UNKNOWN_COMMAND', ref: res.body.actionId })
  agentB.send({ type: 'command.result', commandId: res.body.actionId, ok: true })
  t.match(await agentB.next('error'), { code: 'UNKNOWN_COMMAND', ref: res.body.actionId })
  t.equal((await action(hub, res.body.actionId)).state, 'DISPATCHED')
})

t.test('a node connected to another hub instance gets the command at once', async t => {
  const hub = await startTestHub(t)
  const config = { ...loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent' }), databaseUrl: hub.databaseUrl, dbPoolMax: 4 }
  const other = await buildHub({ config, agentTokens: await testAgentTokens() })
  t.teardown(() => other.close())
  const otherUrl = await other.listen({ host: '127.0.0.1', port: 0 })
  const { agentToken, servers: [s1] } = await addNode(hub, 'n1')
  const agent = await connectRaw({ url: otherUrl }, agentToken)
  t.teardown(() => agent.close())
  await hello(agent, [s1 as string])
  const res = await post(hub, s1 as string, { action: 'START' })
  const cmd = await agent.next('command', 2_000)
  t.equal(cmd.commandId, res.body.actionId, 'delivered by the hub that holds the node')
  agent.send({ type: 'command.ack', commandId: cmd.commandId })
  agent.send({ type: 'command.result', commandId: cmd.commandId, ok: true })
  await stateIs(hub, cmd.commandId, 'SUCCEEDED')
})
