// The status ingest's one-round-trip batch (status-ingest.ts, ingestRoundSql), against a real
// PostgreSQL: a batch holding several reports of one server, replays, illegal transitions and
// other nodes' servers is decided report by report in arrival order, as the state machine says,
// and writes exactly the accepted transitions, the servers' final rows and their events (with
// `from` filled in by the database), all in one transaction.
import t from 'tap'
import type { ServerStatus } from '../../src/agent-protocol/index.ts'
import { createStatusIngest, type StatusReport } from '../../src/hub/agents/status-ingest.ts'
import { startTestHub } from '../helpers/hub.ts'
import { addNode } from '../helpers/raw-agent.ts'

const silent = { error () {} }

t.test('one batch: several reports of a server in order, replays, illegal transitions and foreign servers', async t => {
  const hub = await startTestHub(t)
  const mine = await addNode(hub, 'mine', 2)
  const theirs = await addNode(hub, 'theirs', 1)
  const [a, c] = mine.servers as [string, string]
  const b = theirs.servers[0] as string
  const pool = hub.app.db.pool
  const batches: number[] = []
  const ingest = createStatusIngest({ pool, lanes: 1, onBatch: size => batches.push(size), log: silent })
  t.teardown(() => ingest.drain())
  const { rows: [{ last: before }] } = await pool.query('SELECT last_id::text AS last FROM event_counter')

  const report = (serverId: string, status: ServerStatus, seq: number, reason?: string): StatusReport =>
    ({ nodeId: mine.nodeId, serverId, status, seq, at: new Date(Date.UTC(2026, 11, 3, 12, 0, seq)), ...(reason === undefined ? {} : { reason }) })
  // Submitted in one tick: one batch (the lane waits for setImmediate before it takes its queue).
  const outcomes = await Promise.all([
    report(a, 'STARTING', 1, 'power'),
    report(a, 'RUNNING', 2),
    report(a, 'RUNNING', 2), // a resend of the one before: acked, not written twice
    report(a, 'STARTING', 3), // RUNNING -> STARTING is not legal
    report(b, 'STARTING', 1), // another node's server
    report('00000000-0000-4000-8000-00000000dead', 'STARTING', 1), // no such server
    report(c, 'CRASHED', 1), // STOPPED -> CRASHED is not legal
    report(a, 'STOPPING', 4),
    report(c, 'STARTING', 2)
  ].map(async r => await ingest.submit(r)))

  t.same(batches, [9], 'the nine reports went in one batch')
  t.same(outcomes.map(o => o.ok ? 'ok' : o.code), ['ok', 'ok', 'ok', 'ILLEGAL_TRANSITION', 'NOT_YOUR_SERVER', 'NOT_YOUR_SERVER', 'ILLEGAL_TRANSITION', 'ok', 'ok'])
  t.match(outcomes[3], { message: 'RUNNING -> STARTING is not a legal transition' }, 'judged against the report before it in the batch')
  t.match(outcomes[6], { message: 'STOPPED -> CRASHED is not a legal transition' })

  const transitions = await pool.query(`SELECT server_id AS "serverId", from_status AS "from", to_status AS "to", seq::int, reason, at
                                        FROM server_status_transitions WHERE server_id = ANY($1::uuid[]) ORDER BY server_id = $2 DESC, seq`, [[a, b, c], a])
  t.same(transitions.rows, [
    { serverId: a, from: 'STOPPED', to: 'STARTING', seq: 1, reason: 'power', at: new Date(Date.UTC(2026, 11, 3, 12, 0, 1)) },
    { serverId: a, from: 'STARTING', to: 'RUNNING', seq: 2, reason: null, at: new Date(Date.UTC(2026, 11, 3, 12, 0, 2)) },
    { serverId: a, from: 'RUNNING', to: 'STOPPING', seq: 4, reason: null, at: new Date(Date.UTC(2026, 11, 3, 12, 0, 4)) },
    { serverId: c, from: 'STOPPED', to: 'STARTING', seq: 2, reason: null, at: new Date(Date.UTC(2026, 11, 3, 12, 0, 2)) }
  ], 'exactly the accepted transitions, each from the status before it')
  const servers = await pool.query('SELECT id, status, seq::int, status_changed_at AS "changedAt" FROM servers WHERE id = ANY($1::uuid[]) ORDER BY id = $2 DESC, id = $3 DESC', [[a, b, c], a, c])
  t.same(servers.rows, [
    { id: a, status: 'STOPPING', seq: 4, changedAt: new Date(Date.UTC(2026, 11, 3, 12, 0, 4)) },
    { id: c, status: 'STARTING', seq: 2, changedAt: new Date(Date.UTC(2026, 11, 3, 12, 0, 2)) },
    { id: b, status: 'STOPPED', seq: 0, changedAt: servers.rows[2].changedAt }
  ], "each server holds its last accepted report; another node's server is untouched")

  const events = await pool.query('SELECT id::int, kind, server_id AS "serverId", node_id AS "nodeId", data FROM events WHERE id > $1 ORDER BY id', [before])
  const ofA = events.rows.filter(e => e.serverId === a)
  t.equal(events.rows.length, 4, 'one event per accepted transition')
  t.same(ofA.map(e => e.data), [
    { serverId: a, nodeId: mine.nodeId, from: 'STOPPED', to: 'STARTING', seq: 1, reason: 'power' },
    { serverId: a, nodeId: mine.nodeId, from: 'STARTING', to: 'RUNNING', seq: 2, reason: null },
    { serverId: a, nodeId: mine.nodeId, from: 'RUNNING', to: 'STOPPING', seq: 4, reason: null }
  ], "a server's events in order, `from` filled in by the database")
  t.ok(events.rows.every(e => e.kind === 'server.status' && e.nodeId === mine.nodeId))
  t.same(events.rows.map(e => e.id), [Number(before) + 1, Number(before) + 2, Number(before) + 3, Number(before) + 4], 'ids without holes')

  // The same reports again (an agent replaying after a reconnect): all acked, nothing new written.
  const again = await Promise.all([report(a, 'STARTING', 1), report(a, 'RUNNING', 2), report(a, 'STOPPING', 4), report(c, 'STARTING', 2)].map(async r => await ingest.submit(r)))
  t.ok(again.every(o => o.ok), 'replays are acked')
  const { rows: [{ n }] } = await pool.query('SELECT count(*)::int AS n FROM server_status_transitions WHERE server_id = ANY($1::uuid[])', [[a, c]])
  t.equal(n, 4, 'and write nothing')
})

t.test('a batch is one transaction: a report the database refuses undoes its whole first try', async t => {
  const hub = await startTestHub(t)
  const mine = await addNode(hub, 'mine', 2)
  const [a, c] = mine.servers as [string, string]
  const pool = hub.app.db.pool
  // A trigger refuses c's transitions: the first try of the batch fails as a whole, then the
  // bisection commits a's reports and answers c's with UNSTORABLE.
  await pool.query(`CREATE FUNCTION refuse_c() RETURNS trigger LANGUAGE plpgsql AS $$
                    BEGIN IF NEW.server_id = '${c}' THEN RAISE EXCEPTION 'refused' USING ERRCODE = '23514'; END IF; RETURN NEW; END $$`)
  await pool.query('CREATE TRIGGER refuse_c BEFORE INSERT ON server_status_transitions FOR EACH ROW EXECUTE FUNCTION refuse_c()')
  const batches: number[] = []
  const ingest = createStatusIngest({ pool, lanes: 1, onBatch: size => batches.push(size), log: silent })
  t.teardown(() => ingest.drain())
  const report = (serverId: string, status: ServerStatus, seq: number): StatusReport => ({ nodeId: mine.nodeId, serverId, status, seq, at: new Date() })
  const outcomes = await Promise.all([report(a, 'STARTING', 1), report(c, 'STARTING', 1), report(a, 'RUNNING', 2), report(c, 'STOPPED', 2)].map(async r => await ingest.submit(r)))
  t.same(outcomes.map(o => o.ok ? 'ok' : o.code), ['ok', 'UNSTORABLE', 'ok', 'UNSTORABLE'])
  t.same(batches, [4])
  const { rows } = await pool.query('SELECT server_id AS "serverId", to_status AS "to" FROM server_status_transitions WHERE server_id = ANY($1::uuid[]) ORDER BY seq', [[a, c]])
  t.same(rows, [{ serverId: a, to: 'STARTING' }, { serverId: a, to: 'RUNNING' }], "a's reports committed once each, c's not at all")
})
