// Action deadlines are pg-boss delayed jobs (src/hub/actions/jobs.ts): one job per action, due when
// its current state times out, worked by every hub. With two hubs on one database each timed-out
// action ends exactly once, also when one hub is SIGKILLed; an action acked in time is not ended at
// its ack deadline: its job is rescheduled for the run deadline.
import { once } from 'node:events'
import { chmod, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import t, { type Test } from 'tap'
import { action, eventsOf, stateIs } from '../helpers/actions.ts'
import { ADMIN_PASSWORD, startTestHub, type TestHub } from '../helpers/hub.ts'
import { freePort, startHubProcess } from '../helpers/hub-process.ts'
import { addNode, connectRaw, hello } from '../helpers/raw-agent.ts'
import { waitFor } from '../helpers/wait.ts'

// A hub killed while it held a fetched job leaves it to pg-boss's expiry (60 s) and a retry.
t.setTimeout(300_000)

const post = async (hub: { url: string }, token: string, serverId: string) => {
  const res = await fetch(`${hub.url}/api/servers/${serverId}/actions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ action: 'START' }),
    signal: AbortSignal.timeout(10_000)
  })
  const body = await res.json() as { actionId: string }
  if (res.status !== 202) throw new Error(`POST actions: ${res.status} ${JSON.stringify(body)}`)
  return body.actionId
}

const login = async (url: string) => {
  const res = await fetch(`${url}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password: ADMIN_PASSWORD }),
    signal: AbortSignal.timeout(10_000)
  })
  return (await res.json() as { token: string }).token
}

/** Every action EXPIRED by its delivery deadline, with one final event and its job completed to match. */
async function expiredOnce (t: Test, hub: TestHub, ids: string[], ms: number) {
  const { pool } = hub.app.db
  await waitFor(`${ids.length} actions EXPIRED`, async () => {
    const { rows: [r] } = await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM server_actions WHERE id = ANY($1::uuid[]) AND state = 'EXPIRED'", [ids])
    return r?.n === ids.length
  }, ms, 100)
  const { rows: actions } = await pool.query<{ error_code: string }>('SELECT error_code FROM server_actions WHERE id = ANY($1::uuid[])', [ids])
  t.ok(actions.every(a => a.error_code === 'DELIVERY_TIMEOUT'), 'each ended by its delivery deadline')
  const { rows: finals } = await pool.query<{ id: string, n: number }>(
    `SELECT data->>'actionId' AS id, count(*)::int AS n FROM events
     WHERE kind = 'action.updated' AND data->>'actionId' = ANY($1::text[]) AND data->>'state' IN ('SUCCEEDED', 'FAILED', 'EXPIRED', 'CANCELLED') GROUP BY 1`, [ids])
  t.equal(finals.length, ids.length, 'a final event for every action')
  t.ok(finals.every(f => f.n === 1), 'and never two: ' + JSON.stringify(finals.filter(f => f.n !== 1)))
  const { rows: jobs } = await pool.query<{ state: string, output: unknown, n: number }>(
    "SELECT state::text, output, count(*)::int AS n FROM pgboss.job WHERE name = 'server-action' AND id = ANY($1::uuid[]) GROUP BY 1, 2", [ids])
  t.same(jobs, [{ state: 'completed', output: { state: 'EXPIRED' }, n: ids.length }], 'one job per action, completed with the final state')
}

t.test('two hubs, then one SIGKILLed: every deadline ends its action exactly once', async t => {
  const DELIVER_MS = 1_500
  // Hub B runs in this process and owns the test database; hub A is a child process on it.
  const b = await startTestHub(t, { actionDeliverTimeoutMs: DELIVER_MS })
  const { servers } = await addNode(b, 'offline-node', 40)
  const dataDir = await mkdtemp(path.join(tmpdir(), 'hub-deadlines-'))
  await chmod(dataDir, 0o755)
  t.teardown(() => rm(dataDir, { recursive: true, force: true }))
  const a = startHubProcess({
    DATABASE_URL: b.databaseUrl,
    HUB_DATA_DIR: dataDir,
    HUB_PORT: String(await freePort()),
    NODE_ENV: 'test',
    HUB_ADMIN_PASSWORD: ADMIN_PASSWORD,
    LOG_LEVEL: 'info',
    HUB_ACTION_DELIVER_TIMEOUT_MS: String(DELIVER_MS)
  })
  t.teardown(() => { if (a.child.exitCode === null) a.child.kill('SIGKILL') })
  const aUrl = await a.ready
  const aToken = await login(aUrl)
  const bToken = await b.adminToken()

  // Both hubs alive: actions created on either; the node never connects, so each expires.
  const first = await Promise.all(servers.slice(0, 20).map(async (s, i) => i % 2 === 0 ? await post({ url: aUrl }, aToken, s) : await post(b, bToken, s)))
  await expiredOnce(t, b, first, 20_000)
  t.comment(`hub A ended some: ${a.output().includes('timed-out actions ended')}`)

  // Created on hub A, which is SIGKILLed before any is due: hub B ends them all.
  const second = await Promise.all(servers.slice(20).map(async s => await post({ url: aUrl }, aToken, s)))
  a.child.kill('SIGKILL')
  await once(a.child, 'exit')
  t.equal((await b.app.db.pool.query("SELECT count(*)::int AS n FROM server_actions WHERE id = ANY($1::uuid[]) AND state = 'QUEUED'", [second])).rows[0].n, 20, 'all still QUEUED at the kill')
  await expiredOnce(t, b, second, 200_000)
})

t.test('an action acked in time is not ended at its ack deadline: its job moves to the run deadline', async t => {
  const ACK_MS = 800
  const RUN_MS = 1_500
  const hub = await startTestHub(t, { actionAckTimeoutMs: ACK_MS, actionRunTimeoutMs: RUN_MS })
  const { agentToken, servers: [s1] } = await addNode(hub, 'n1')
  const agent = await connectRaw(hub, agentToken)
  t.teardown(() => agent.close())
  await hello(agent, [s1 as string])
  const id = await post(hub, await hub.adminToken(), s1 as string)
  const cmd = await agent.next('command')
  t.equal(cmd.commandId, id)
  agent.send({ type: 'command.ack', commandId: id })
  await stateIs(hub, id, 'ACKED')
  const { pool } = hub.app.db
  const job = async () => (await pool.query<{ state: string, start_after: Date, output: unknown }>(
    "SELECT state::text, start_after, output FROM pgboss.job WHERE name = 'server-action' AND id = $1", [id])).rows
  const acked = await action(hub, id)
  const ackDeadline = (acked.dispatchedAt as Date).getTime() + ACK_MS
  // The job came due at the ack deadline and was put back, the same job, due at the run deadline.
  const [moved] = await waitFor('the job rescheduled', async () => {
    const rows = await job()
    return rows.length === 1 && rows[0]?.state === 'created' && rows[0].start_after.getTime() > ackDeadline ? rows : undefined
  }, 10_000)
  t.equal(moved?.start_after.getTime(), (await action(hub, id)).deadlineAt?.getTime(), 'due at the run deadline')
  t.ok(Date.now() > ackDeadline, 'the ack deadline has passed')
  t.equal((await action(hub, id)).state, 'ACKED', 'and the action is still ACKED')

  const failed = await stateIs(hub, id, 'FAILED')
  t.equal(failed.errorCode, 'RUN_TIMEOUT')
  t.ok((failed.completedAt as Date).getTime() - (failed.ackedAt as Date).getTime() >= RUN_MS, 'ended no sooner than the run timeout after the ack')
  t.same(await eventsOf(hub, id), ['QUEUED', 'DISPATCHED', 'ACKED', 'FAILED'])
  t.same((await job()).map(j => ({ state: j.state, output: j.output })), [{ state: 'completed', output: { state: 'FAILED' } }], 'one job, completed with the final state')
})
