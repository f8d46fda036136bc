// Issue 10 item 5: power actions are rate limited per user and per server (429 with Retry-After),
// and a KILL while another KILL on that server is live returns the live one.
import t from 'tap'
import { createActionLimits, type Budget } from '../../src/hub/action-limits.ts'
import { startTestHub, type TestHub } from '../helpers/hub.ts'
import { addNode, connectRaw, hello } from '../helpers/raw-agent.ts'

async function post (hub: TestHub, serverId: string, body: unknown, token?: string) {
  return await hub.request('POST', `/api/servers/${serverId}/actions`, { token: token ?? await hub.adminToken(), body })
}

t.test('per server, with the defaults: the 11th action in a burst is 429 with Retry-After; other servers go on', async t => {
  const frozen = new Date() // the buckets do not refill while the test runs, however slow the machine
  const hub = await startTestHub(t, {}, { now: () => frozen })
  const { servers: [s1, s2] } = await addNode(hub, 'offline', 2)
  const statuses: number[] = []
  for (let i = 0; i < 10; i++) statuses.push((await post(hub, s1 as string, { action: i % 2 === 0 ? 'START' : 'STOP' })).status)
  t.ok(statuses.every(s => s === 202 || s === 409), 'ten within the burst (accepted or conflicting)')
  const limited = await post(hub, s1 as string, { action: 'STOP' })
  t.equal(limited.status, 429)
  t.equal(limited.body.error.code, 'RATE_LIMITED')
  t.equal(limited.headers.get('retry-after'), '1', 'a token every 500 ms: retry after 1 s')
  t.equal((await post(hub, s2 as string, { action: 'START' })).status, 202, 'another server has its own budget')
})

t.test('per user: a user over budget is refused everywhere, another user is not', async t => {
  const frozen = new Date()
  const hub = await startTestHub(t, { actionUserBurst: 3, actionUserRate: 1 }, { now: () => frozen })
  const { servers } = await addNode(hub, 'offline', 4)
  for (const s of servers.slice(0, 3)) t.equal((await post(hub, s, { action: 'START' })).status, 202)
  const limited = await post(hub, servers[3] as string, { action: 'START' })
  t.equal(limited.status, 429, 'the admin spent its burst')
  t.equal(limited.headers.get('retry-after'), '1')
  const admin = await hub.adminToken()
  const bob = await hub.request('POST', '/api/users', { token: admin, body: { username: 'bob', email: 'bob@example.test', password: 'correct-horse' } })
  await hub.request('POST', `/api/users/${bob.body.id as string}/permissions`, { token: admin, body: { permission: 'servers.control' } })
  t.equal((await post(hub, servers[3] as string, { action: 'START' }, await hub.login('bob', 'correct-horse'))).status, 202, 'bob has his own budget')
  const denied = await post(hub, servers[3] as string, { action: 'STOP' }, await hub.login('bob', 'correct-horse'))
  t.equal(denied.status, 409, 'a conflict is answered as before')
})

t.test('KILL coalescing: 100 KILLs in a row give one action and one command frame', async t => {
  const hub = await startTestHub(t, { actionServerBurst: 1_000, actionServerRate: 1_000 })
  const { agentToken, servers: [s1] } = await addNode(hub, 'n1')
  const agent = await connectRaw(hub, agentToken)
  await hello(agent, [s1 as string])
  const first = await post(hub, s1 as string, { action: 'KILL' })
  t.equal(first.status, 202)
  const answers = []
  for (let i = 0; i < 99; i++) answers.push(await post(hub, s1 as string, { action: 'KILL' }))
  t.ok(answers.every(a => a.status === 202 && a.body.actionId === first.body.actionId), 'every later KILL answers the live one')
  t.match(answers[98]?.body, { actionId: first.body.actionId, state: /^(QUEUED|DISPATCHED)$/ }, 'with its current state')
  const parallel = await Promise.all(Array.from({ length: 20 }, async () => await post(hub, s1 as string, { action: 'KILL' })))
  t.ok(parallel.every(a => a.body.actionId === first.body.actionId), 'parallel KILLs coalesce too (the database arbitrates)')
  t.equal(await hub.app.db.prisma.serverAction.count({ where: { serverId: s1 as string, action: 'KILL' } }), 1, 'one KILL stored')
  t.match(await agent.next('command'), { type: 'command', commandId: first.body.actionId, action: 'KILL' })
  t.equal(agent.inbox.filter(m => m.type === 'command').length, 0, 'one command frame reached the agent, not 120')

  await hub.app.db.prisma.serverAction.update({ where: { id: first.body.actionId }, data: { state: 'SUCCEEDED' } })
  const next = await post(hub, s1 as string, { action: 'KILL' })
  t.not(next.body.actionId, first.body.actionId, 'once the KILL is final, a new KILL is a new action')
})

t.test('budgets: a request passes only if every budget has a token, and a refusal spends none', async t => {
  let clock = 0
  const budgets: Budget[] = [
    { name: 'user', applies: a => a.action !== 'COMMAND', key: a => a.userId, rate: 1, burst: 2 },
    { name: 'server', applies: a => a.action !== 'COMMAND', key: a => a.serverId, rate: 10, burst: 1 },
    { name: 'command', applies: a => a.action === 'COMMAND', key: a => a.userId, rate: 1, burst: 1 }
  ]
  const limits = createActionLimits(budgets, () => clock)
  t.equal(limits.take({ userId: 'u', serverId: 'a', action: 'START' }), 0)
  t.equal(limits.take({ userId: 'u', serverId: 'a', action: 'STOP' }), 100, 'the server budget waits 100 ms')
  t.equal(limits.take({ userId: 'u', serverId: 'b', action: 'STOP' }), 0, 'the refusal spent nothing of the user budget')
  t.equal(limits.take({ userId: 'u', serverId: 'c', action: 'STOP' }), 1_000, 'the user budget is empty')
  t.equal(limits.take({ userId: 'u', serverId: 'c', action: 'COMMAND' }), 0, 'COMMAND has its own budget')
  t.equal(limits.take({ userId: 'u', serverId: 'c', action: 'COMMAND' }), 1_000)
  clock = 1_000
  t.equal(limits.take({ userId: 'u', serverId: 'c', action: 'STOP' }), 0, 'refilled')
})
