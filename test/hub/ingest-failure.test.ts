// A database error never fails more than it must (real hub, real PostgreSQL, a raw WebSocket agent).
//
// A trigger on server_status_transitions raises for one server, BAD. To make the batch
// deterministic, a second connection first holds the row lock of another server on BAD's lane
// (HOLD): the lane's first transaction, HOLD's report, waits on it, and the reports sent next for
// BAD, SIBLING and BAD again (same lane) queue behind it and form the lane's next batch together.
// GOOD is on another lane and must be acked meanwhile. Releasing the lock lets HOLD commit; then:
// - a data error (the trigger refuses BAD's row): the batch is bisected, SIBLING is acked, BAD
//   gets the terminal UNSTORABLE and so does BAD's later report of the batch (order per server);
// - a transient error (the trigger raises a serialization failure, 40001): nothing of the batch is
//   written, every report of it gets INTERNAL, and the agent's resend is acked.
import { once } from 'node:events'
import pg from 'pg'
import t, { type Test } from 'tap'
import WebSocket from 'ws'
import { startTestHub, type TestHub } from '../helpers/hub.ts'

// Lanes are picked by the uuid's last 8 hex digits modulo the lane count (status-ingest.ts): these
// four share a lane for any lane count that divides 16, and GOOD (odd) is always on another one.
const HOLD = '00000000-0000-4000-8000-000000000000'
const BAD = '00000000-0000-4000-8000-000000000010'
const SIBLING = '00000000-0000-4000-8000-000000000020'
const GOOD = '00000000-0000-4000-8000-000000000001'
const WAIT_MS = 5_000

async function addNode (hub: TestHub) {
  const res = await hub.request('POST', '/api/nodes', { token: await hub.adminToken(), body: { name: 'n1' } })
  const prisma = hub.app.db.prisma
  const alt = await prisma.alt.findFirstOrThrow()
  const owner = await prisma.user.findFirstOrThrow()
  const ids = [HOLD, BAD, SIBLING, GOOD]
  await prisma.server.createMany({ data: ids.map((id, i) => ({ id, name: `s${i}`, port: 27000 + i, nodeId: res.body.node.id, altId: alt.id, ownerId: owner.id })) })
  return res.body.agentToken as string
}

/** A raw agent: every wait for a frame has a deadline. */
async function connect (hub: TestHub, token: string) {
  const ws = new WebSocket(hub.url.replace('http', 'ws') + '/agent/v1', { headers: { authorization: `Bearer ${token}` } })
  const inbox: any[] = []
  let wake = () => {}
  ws.on('message', data => { inbox.push(JSON.parse(String(data))); wake() })
  await once(ws, 'open')
  return {
    inbox,
    send: (msg: object) => ws.send(JSON.stringify(msg)),
    status: (serverId: string, status: string, seq: number) => ws.send(JSON.stringify({ type: 'status', serverId, status, seq, at: new Date().toISOString() })),
    async next (wanted: (m: any) => boolean, what: string) {
      const deadline = Date.now() + WAIT_MS
      for (;;) {
        const i = inbox.findIndex(wanted)
        if (i >= 0) return inbox.splice(i, 1)[0]
        const left = deadline - Date.now()
        if (left <= 0) throw new Error(`no ${what} within ${WAIT_MS} ms; got ${JSON.stringify(inbox).slice(0, 500)}`)
        await new Promise<void>(resolve => {
          const timer = setTimeout(resolve, left)
          wake = () => { clearTimeout(timer); resolve() }
        })
      }
    },
    close: () => ws.close()
  }
}

const ack = (serverId: string, seq: number) => (m: any) => m.type === 'status.ack' && m.serverId === serverId && m.seq === seq
const refused = (serverId: string, seq: number) => (m: any) => m.type === 'error' && m.ref === `${serverId}:${seq}`

interface Scenario {
  agent: Awaited<ReturnType<typeof connect>>
  db: pg.Client
  state: () => Promise<Record<string, { status: string, seq: number, transitions: number }>>
}

/** Runs HOLD, GOOD, then the batch [BAD 1, SIBLING 1, BAD 2] with the trigger raising `errcode` for BAD. */
async function scenario (t: Test, errcode: string): Promise<Scenario> {
  const hub = await startTestHub(t, { dbPoolMax: 4 })
  const token = await addNode(hub)
  const db = new pg.Client({ connectionString: hub.databaseUrl })
  await db.connect()
  t.teardown(() => db.end())
  await db.query(`CREATE FUNCTION fail_for_one_server() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.server_id = '${BAD}' THEN RAISE EXCEPTION 'injected failure for %', NEW.server_id USING ERRCODE = '${errcode}'; END IF;
      RETURN NEW;
    END $$`)
  await db.query('CREATE TRIGGER fail_for_one_server BEFORE INSERT ON server_status_transitions FOR EACH ROW EXECUTE FUNCTION fail_for_one_server()')

  const agent = await connect(hub, token)
  t.teardown(() => agent.close())
  agent.send({ type: 'hello', protocol: 1, agentVersion: 't', servers: [] })
  await agent.next(m => m.type === 'welcome', 'welcome')

  // HOLD's lane blocks on a row lock until we let go.
  const holder = new pg.Client({ connectionString: hub.databaseUrl })
  await holder.connect()
  t.teardown(() => holder.end())
  await holder.query('BEGIN')
  await holder.query('SELECT 1 FROM servers WHERE id = $1 FOR UPDATE', [HOLD])
  agent.status(HOLD, 'STARTING', 1)
  const deadline = Date.now() + WAIT_MS
  for (;;) { // no event says "a backend waits on a lock": poll pg_locks, with a deadline
    const { rows } = await db.query('SELECT count(*)::int AS n FROM pg_locks WHERE NOT granted')
    if (rows[0].n > 0) break
    if (Date.now() > deadline) throw new Error('the hub never waited on the held row lock')
    await new Promise(resolve => setTimeout(resolve, 10))
  }

  agent.status(BAD, 'STARTING', 1)
  agent.status(SIBLING, 'STARTING', 1)
  agent.status(BAD, 'RUNNING', 2)
  agent.status(GOOD, 'STARTING', 1)
  // Frames are handled in order, so once GOOD is acked, BAD and SIBLING wait in their lane's queue.
  t.ok(await agent.next(ack(GOOD, 1), 'ack of GOOD'), 'another lane commits while this one is stuck')
  await holder.query('ROLLBACK')
  t.ok(await agent.next(ack(HOLD, 1), 'ack of HOLD'), 'the batch before the failing one commits')

  const state = async () => Object.fromEntries((await db.query<{ id: string, status: string, seq: string, transitions: number }>(
    `SELECT s.id, s.status, s.seq, (SELECT count(*)::int FROM server_status_transitions x WHERE x.server_id = s.id) AS transitions
       FROM servers s ORDER BY s.id`)).rows.map(r => [r.id, { status: r.status, seq: Number(r.seq), transitions: r.transitions }]))
  return { agent, db, state }
}

t.test('storage refusing one report fails that report alone, with UNSTORABLE; the rest of the batch is acked', async t => {
  const { agent, state } = await scenario(t, 'P0001')
  t.ok(await agent.next(ack(SIBLING, 1), 'ack of SIBLING'), 'a healthy report in the same batch is acked')
  t.match(await agent.next(refused(BAD, 1), 'error for BAD'), { type: 'error', code: 'UNSTORABLE', ref: `${BAD}:1` })
  t.match(await agent.next(refused(BAD, 2), 'error for BAD 2'), { type: 'error', code: 'UNSTORABLE', ref: `${BAD}:2` },
    'the server\'s later report in the batch fails with it, so order holds')
  t.same(await state(), {
    [HOLD]: { status: 'STARTING', seq: 1, transitions: 1 },
    [BAD]: { status: 'STOPPED', seq: 0, transitions: 0 },
    [SIBLING]: { status: 'STARTING', seq: 1, transitions: 1 },
    [GOOD]: { status: 'STARTING', seq: 1, transitions: 1 }
  }, 'everything but BAD is written')
  t.notOk(agent.inbox.some(m => m.type === 'status.ack' && m.serverId === BAD), 'no ack for BAD')
  t.notOk(agent.inbox.some(m => m.type === 'error'), 'no other error frame')
})

t.test('a transient failure fails its own batch only, with INTERNAL; the agent resends and is acked', async t => {
  const { agent, db, state } = await scenario(t, '40001')
  t.match(await agent.next(refused(BAD, 1), 'error for BAD'), { type: 'error', code: 'INTERNAL', ref: `${BAD}:1` })
  t.match(await agent.next(refused(SIBLING, 1), 'error for SIBLING'), { type: 'error', code: 'INTERNAL', ref: `${SIBLING}:1` },
    'not bisected: a transient fault is nobody\'s data')
  t.match(await agent.next(refused(BAD, 2), 'error for BAD 2'), { type: 'error', code: 'INTERNAL', ref: `${BAD}:2` })
  t.notOk(agent.inbox.some(m => m.type === 'status.ack' && (m.serverId === BAD || m.serverId === SIBLING)), 'no ack for the failed batch')
  t.same(await state(), {
    [HOLD]: { status: 'STARTING', seq: 1, transitions: 1 },
    [BAD]: { status: 'STOPPED', seq: 0, transitions: 0 },
    [SIBLING]: { status: 'STOPPED', seq: 0, transitions: 0 },
    [GOOD]: { status: 'STARTING', seq: 1, transitions: 1 }
  }, 'nothing of the failed batch is written; the other batches are')

  // The fault goes away; the agent resends what was refused, with the same seq.
  await db.query('DROP TRIGGER fail_for_one_server ON server_status_transitions')
  agent.status(BAD, 'STARTING', 1)
  agent.status(SIBLING, 'STARTING', 1)
  agent.status(BAD, 'RUNNING', 2)
  t.ok(await agent.next(ack(BAD, 1), 'ack of BAD'), 'the resent report is acked')
  t.ok(await agent.next(ack(SIBLING, 1), 'ack of SIBLING'))
  t.ok(await agent.next(ack(BAD, 2), 'ack of BAD 2'))
  t.same(await state(), {
    [HOLD]: { status: 'STARTING', seq: 1, transitions: 1 },
    [BAD]: { status: 'RUNNING', seq: 2, transitions: 2 },
    [SIBLING]: { status: 'STARTING', seq: 1, transitions: 1 },
    [GOOD]: { status: 'STARTING', seq: 1, transitions: 1 }
  }, 'written once each')
  t.notOk(agent.inbox.some(m => m.type === 'error'), 'no other error frame')
})
