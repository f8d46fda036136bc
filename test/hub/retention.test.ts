// Retention: each prune deletes exactly the rows past its retention, and the prunes run as
// scheduled pg-boss jobs: with two hubs on one database, each runs once per period.
import t from 'tap'
import { PRUNES, pruneQueue, type PruneName } from '../../src/hub/plugins/retention.ts'
import { startTestHub } from '../helpers/hub.ts'
import { addNode } from '../helpers/raw-agent.ts'

// The schedule check of pg-boss may wait up to a minute for the next occurrence.
t.setTimeout(240_000)

const DAY = 86_400_000

t.test('each prune deletes exactly what is past its retention', async t => {
  const hub = await startTestHub(t, { pruneCron: '0 0 1 1 *', eventRetentionMs: 60_000, eventRetentionCount: 1_000 })
  const { pool } = hub.app.db
  const q = async (text: string, values: unknown[] = []) => (await pool.query(text, values)).rows
  const ago = (ms: number) => new Date(Date.now() - ms)
  const { rows: [admin] } = await pool.query<{ id: string }>("SELECT id FROM users WHERE username = 'admin'")
  const node = await addNode(hub, 'retention-node', 4)

  // Sessions (30 days after expiry or revocation).
  const session = async (label: string, expires: Date, revoked: Date | null) =>
    (await q('INSERT INTO sessions (user_id, token_hash, expires_at, revoked_at) VALUES ($1, $2, $3, $4) RETURNING id', [admin?.id, label, expires, revoked]))[0].id as string
  await session('expired-31d', ago(31 * DAY), null)
  await session('revoked-31d', ago(-DAY), ago(31 * DAY))
  const keptSessions = [
    await session('expired-29d', ago(29 * DAY), null),
    await session('revoked-29d', ago(-DAY), ago(29 * DAY)),
    await session('active', ago(-DAY), null)
  ]
  // Tickets (60 s after expiry).
  for (const [hash, expires] of [['t-old', ago(120_000)], ['t-recent', ago(30_000)], ['t-valid', ago(-30_000)]] as const) {
    await q('INSERT INTO ws_tickets (token_hash, session_id, expires_at) VALUES ($1, $2, $3)', [hash, keptSessions[2], expires])
  }
  // Transitions (30 days).
  const transition = async (at: Date) => await q("INSERT INTO server_status_transitions (server_id, to_status, at) VALUES ($1, 'RUNNING', $2)", [node.servers[0], at])
  const transitionsBefore = Number((await q('SELECT count(*) FROM server_status_transitions'))[0].count)
  await transition(ago(31 * DAY))
  await transition(ago(31 * DAY))
  await transition(ago(29 * DAY))
  // Actions (90 days after they finished; live ones never).
  const action = async (serverId: string | undefined, state: string, completed: Date | null, requested: Date) =>
    (await q('INSERT INTO server_actions (server_id, action, state, completed_at, timestamp, updated_at) VALUES ($1, \'START\', $2, $3, $4, now()) RETURNING id',
      [serverId, state, completed, requested]))[0].id as string
  await action(node.servers[0], 'SUCCEEDED', ago(91 * DAY), ago(91 * DAY))
  await action(node.servers[1], 'FAILED', ago(95 * DAY), ago(95 * DAY))
  const keptActions = [
    await action(node.servers[0], 'SUCCEEDED', ago(89 * DAY), ago(89 * DAY)),
    await action(node.servers[2], 'CANCELLED', ago(10 * DAY), ago(200 * DAY)),
    await action(node.servers[3], 'QUEUED', null, ago(200 * DAY))
  ]
  // Events (older than 60 s and outside the newest 1,000): 1,100 after the current last id, the
  // first 1,050 an hour old.
  const base = Number((await q('SELECT last_id FROM event_counter WHERE id = 1'))[0].last_id)
  await q(`INSERT INTO events (id, kind, server_id, data, at)
           SELECT $1::bigint + g, 'server.status', $2, '{}', CASE WHEN g <= 1050 THEN now() - interval '1 hour' ELSE now() END
           FROM generate_series(1, 1100) g`, [base, node.servers[0]])
  await q('UPDATE event_counter SET last_id = $1 WHERE id = 1', [base + 1100])

  const removed: Record<string, number> = {}
  for (const name of PRUNES) removed[name] = await hub.app.retention.prune(name)
  t.same(removed, { sessions: 2, tickets: 1, events: 100, transitions: 2, actions: 2 }, 'how many each prune deleted')

  t.same((await q('SELECT id FROM sessions WHERE token_hash <> ALL($1) ORDER BY id', [['expired-31d', 'revoked-31d']])).map(r => r.id).filter(id => keptSessions.includes(id)).sort(), [...keptSessions].sort(), 'sessions within retention stay')
  t.same((await q("SELECT count(*)::int AS n FROM sessions WHERE token_hash IN ('expired-31d', 'revoked-31d')"))[0].n, 0, 'sessions past retention are gone')
  t.same((await q('SELECT token_hash FROM ws_tickets ORDER BY token_hash')).map(r => r.token_hash), ['t-recent', 't-valid'])
  t.equal(Number((await q('SELECT count(*) FROM server_status_transitions'))[0].count), transitionsBefore + 1, 'only the 29-day transition of ours stays')
  t.same((await q('SELECT id FROM server_actions ORDER BY id')).map(r => r.id), [...keptActions].sort(), 'finished actions within 90 days and live ones stay')
  t.same((await q('SELECT min(id)::text AS min, count(*)::int AS n FROM events WHERE id > $1', [base]))[0], { min: String(base + 101), n: 1_000 }, 'the newest 1,000 events stay')

  const again: Record<string, number> = {}
  for (const name of PRUNES) again[name] = await hub.app.retention.prune(name)
  t.same(again, { sessions: 0, tickets: 0, events: 0, transitions: 0, actions: 0 }, 'a second run finds nothing')
})

t.test('with two hubs on one database, each scheduled prune runs once per period', async t => {
  const overrides = { pruneCron: '* * * * *', queueCronCheckS: 1 }
  const started = Date.now()
  const a = await startTestHub(t, overrides)
  const b = await startTestHub(t, overrides, { databaseUrl: a.databaseUrl })
  const total = (name: PruneName) => a.app.retention.runs[name] + b.app.retention.runs[name]
  const deadline = Date.now() + 150_000
  while (PRUNES.some(name => total(name) === 0)) {
    if (Date.now() > deadline) t.fail(`not every prune ran within 150 s: ${JSON.stringify(PRUNES.map(total))}`)
    if (Date.now() > deadline) return
    await new Promise(resolve => setTimeout(resolve, 200))
  }
  // Both hubs keep checking the schedule every second: watch several more checks.
  await new Promise(resolve => setTimeout(resolve, 4_000))
  // The periods (minutes, '* * * * *') this test saw begin: the one it started in counts too,
  // since a schedule may fire the occurrence it just missed. Two hubs each pruning on their own
  // would give at least two runs per period.
  const ended = Date.now()
  const periods = Math.floor(ended / 60_000) - Math.floor(started / 60_000) + 1
  for (const name of PRUNES) {
    const { rows: [jobs] } = await a.app.db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM pgboss.job WHERE name = $1 AND state = \'completed\'', [pruneQueue(name)])
    t.ok(total(name) >= 1 && total(name) <= periods, `${name}: ${total(name)} runs in ${periods} period(s)`)
    t.equal(jobs?.n, total(name), `${name}: one run per job pg-boss created, on one of the two hubs`)
  }
})
