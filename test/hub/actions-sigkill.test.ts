// A hub killed with SIGKILL in the middle of dispatching, restarted on the same database: every
// action reaches a final state (here SUCCEEDED: the agent stays online), none twice, none lost,
// each command runs once on the agent, and every pg-boss job is settled to match.
import { once } from 'node:events'
import { chmod, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import pg from 'pg'
import t from 'tap'
import { createAgentClient } from '../../agent-simulator/agent-client.ts'
import { createTestDatabase } from '../helpers/database.ts'
import { freePort, startHubProcess as startHub } from '../helpers/hub-process.ts'

const PASSWORD = 'admin-password-sigkill'

t.test('SIGKILL mid-dispatch, restart: no lost and no duplicated final result', async t => {
  const { url: databaseUrl } = await createTestDatabase(t)
  const dataDir = await mkdtemp(path.join(tmpdir(), 'hub-sigkill-'))
  await chmod(dataDir, 0o755)
  t.teardown(() => rm(dataDir, { recursive: true, force: true }))
  const env = {
    DATABASE_URL: databaseUrl,
    HUB_DATA_DIR: dataDir,
    HUB_PORT: String(await freePort()),
    NODE_ENV: 'test',
    HUB_ADMIN_PASSWORD: PASSWORD,
    LOG_LEVEL: 'info'
  }
  let hub = startHub(env)
  t.teardown(() => { if (hub.child.exitCode === null) hub.child.kill('SIGKILL') })
  const url = await hub.ready
  const api = async (method: string, p: string, token?: string, body?: unknown) => {
    const res = await fetch(url + p, {
      method,
      headers: { ...(token === undefined ? {} : { authorization: `Bearer ${token}` }), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(10_000)
    })
    return { status: res.status, body: await res.json().catch(() => undefined) as any }
  }
  const token = (await api('POST', '/api/auth/login', undefined, { username: 'admin', password: PASSWORD })).body.token as string
  const node = (await api('POST', '/api/nodes', token, { name: 'victim' })).body

  const db = new pg.Client({ connectionString: databaseUrl })
  await db.connect()
  t.teardown(() => db.end())
  const SERVERS = 40
  const { rows: servers } = await db.query<{ id: string }>(
    `INSERT INTO servers (name, node_id, alt_id, owner_id, port, updated_at)
     SELECT 's' || i, $1, (SELECT id FROM alts LIMIT 1), (SELECT id FROM users WHERE username = 'admin'), 30000 + i, now()
     FROM generate_series(1, $2) AS i RETURNING id`, [node.node.id, SERVERS])

  const runs = new Map<string, number>()
  let firstCommand: () => void = () => {}
  const gotFirst = new Promise<void>(resolve => { firstCommand = resolve })
  const agent = createAgentClient({
    url: url.replace('http', 'ws') + '/agent/v1',
    token: node.agentToken,
    servers: servers.map(s => ({ serverId: s.id, status: 'STOPPED' as const, seq: 0 })),
    reconnect: { baseMs: 50, maxMs: 300 },
    onCommand: async cmd => {
      runs.set(cmd.commandId, (runs.get(cmd.commandId) ?? 0) + 1)
      firstCommand()
      await new Promise(resolve => setTimeout(resolve, 30))
      return { ok: true }
    }
  })
  t.teardown(() => agent.close())
  await agent.connect()

  // Fire every action at once and kill the hub as soon as the first command reaches the agent and
  // the first 202 reaches us (the command of an action claimed in its creating transaction leaves
  // before the HTTP answer, so waiting for the command alone may leave nothing answered to check):
  // the rest are committed and not yet dispatched, or dispatched and not acked, or mid-result.
  let firstAccepted: () => void = () => {}
  const gotAccepted = new Promise<void>(resolve => { firstAccepted = resolve })
  const posts = servers.map(async s => {
    const res = await api('POST', `/api/servers/${s.id}/actions`, token, { action: 'START' }).catch(() => ({ status: 0, body: undefined }))
    if (res.status === 202) firstAccepted()
    return res
  })
  await Promise.all([gotFirst, gotAccepted])
  hub.child.kill('SIGKILL')
  await once(hub.child, 'exit')
  const answered = await Promise.all(posts)
  const accepted = answered.filter(r => r.status === 202).map(r => r.body.actionId as string)
  t.ok(accepted.length >= 1, `${accepted.length} actions answered 202 before the kill`)
  const { rows: [before] } = await db.query("SELECT count(*) FILTER (WHERE state IN ('QUEUED', 'DISPATCHED', 'ACKED'))::int AS live FROM server_actions")
  t.ok(before.live > 0, `${before.live} actions were left in flight by the kill`)

  hub = startHub(env)
  await hub.ready
  const deadline = Date.now() + 20_000
  let live = -1
  while (Date.now() < deadline) {
    live = (await db.query("SELECT count(*)::int AS n FROM server_actions WHERE state IN ('QUEUED', 'DISPATCHED', 'ACKED')")).rows[0].n
    if (live === 0) break
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  t.equal(live, 0, 'every action reached a final state after the restart')
  const { rows: actions } = await db.query<{ id: string, state: string }>('SELECT id, state FROM server_actions')
  t.ok(actions.every(a => a.state === 'SUCCEEDED'), 'all SUCCEEDED (the agent stayed online): ' + JSON.stringify(actions.filter(a => a.state !== 'SUCCEEDED')))
  t.same(accepted.filter(id => !actions.some(a => a.id === id)), [], '202 means durable: every accepted action is there')
  const { rows: finals } = await db.query<{ id: string, n: number }>(
    "SELECT data->>'actionId' AS id, count(*)::int AS n FROM events WHERE kind = 'action.updated' AND data->>'state' IN ('SUCCEEDED', 'FAILED', 'EXPIRED', 'CANCELLED') GROUP BY 1")
  t.equal(finals.length, actions.length, 'one final event per action')
  t.ok(finals.every(f => f.n === 1), 'and never two')
  t.ok([...runs.values()].every(n => n === 1), 'each command ran once on the agent (redeliveries deduped)')
  t.equal(runs.size, actions.length, 'every action was delivered')
  const { rows: jobs } = await db.query<{ state: string, n: number }>("SELECT state::text, count(*)::int AS n FROM pgboss.job WHERE name = 'server-action' GROUP BY 1")
  t.same(jobs, [{ state: 'completed', n: actions.length }], 'every job completed to match')

  await agent.close()
  hub.child.kill('SIGTERM')
  await once(hub.child, 'exit')
})
