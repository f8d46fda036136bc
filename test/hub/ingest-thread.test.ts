// The status ingest's own thread (src/hub/agents/ingest-thread.ts) against a real PostgreSQL:
// outcomes come back by report; a thread that dies answers what it held with INTERNAL and is
// replaced; the bound on unanswered reports; drain commits what is queued and refuses the rest.
import pg from 'pg'
import t, { type Test } from 'tap'
import { createIngestThread, type IngestThreadOptions } from '../../src/hub/agents/ingest-thread.ts'
import type { StatusReport } from '../../src/hub/agents/status-ingest.ts'
import { CRASH_SERVER } from '../helpers/crashing-ingest-worker.ts'
import { startTestHub, type TestHub } from '../helpers/hub.ts'
import { addNode } from '../helpers/raw-agent.ts'
import { waitFor } from '../helpers/wait.ts'

const CRASHING = new URL('../helpers/crashing-ingest-worker.ts', import.meta.url)

async function setup (t: Test, options: Partial<IngestThreadOptions> = {}) {
  const hub = await startTestHub(t)
  const node = await addNode(hub, 'n1', 3)
  const logged: string[] = []
  const log = { error: (_: object, msg: string) => { logged.push(msg) }, warn: (_: object, msg: string) => { logged.push(msg) } }
  const batches: number[] = []
  const ingest = createIngestThread({ pool: hub.app.db.poolOptions, lanes: 1, log, onBatch: size => { batches.push(size) }, ...options })
  t.teardown(async () => { await ingest.drain() })
  let seq = 0
  const report = (serverId: string, status: StatusReport['status']): StatusReport => ({ nodeId: node.nodeId, serverId, status, seq: ++seq, at: new Date() })
  return { hub, node, ingest, logged, batches, report }
}

const stored = async (hub: TestHub, id: string) => await hub.app.db.prisma.server.findUniqueOrThrow({ where: { id } })

t.test('reports are stored by the thread and each answered by its own outcome', async t => {
  const { hub, node, ingest, batches, report } = await setup(t)
  const [a, b] = node.servers as [string, string]
  const outcomes = await Promise.all([
    ingest.submit(report(a, 'STARTING')),
    ingest.submit(report(b, 'STARTING')),
    ingest.submit(report(a, 'INSTALLING')), // STARTING -> INSTALLING is not a transition
    ingest.submit({ ...report(a, 'RUNNING'), nodeId: '00000000-0000-4000-8000-000000000000' })
  ])
  t.same(outcomes, [
    { ok: true },
    { ok: true },
    { ok: false, code: 'ILLEGAL_TRANSITION', message: 'STARTING -> INSTALLING is not a legal transition' },
    { ok: false, code: 'NOT_YOUR_SERVER', message: 'this server is not on your node' }
  ])
  t.equal((await stored(hub, a)).status, 'STARTING')
  t.equal((await stored(hub, b)).status, 'STARTING')
  t.equal(batches.reduce((n, size) => n + size, 0), 4, 'the batch sizes come back to the metrics')
  t.equal(ingest.depth(), 0)
})

t.test('a thread that dies answers what it held with INTERNAL, and a new one takes over', async t => {
  const { hub, node, ingest, logged, report } = await setup(t, { worker: CRASHING, restartMs: 50 })
  const [a] = node.servers as [string]
  const first = report(a, 'STARTING')
  const held = await Promise.all([ingest.submit(first), ingest.submit({ ...report(a, 'RUNNING'), serverId: CRASH_SERVER })])
  t.same(held, Array(2).fill({ ok: false, code: 'INTERNAL', message: 'storage failed; resend later' }), 'both reports of the lost message: resend later')
  t.ok(logged.some(m => /status ingest thread stopped/.test(m)), 'the loss is logged')
  // The agent resends; once the new thread is up it is stored (or acked as a replay if it was).
  const outcome = await waitFor('the new thread', async () => { const o = await ingest.submit(first); return o.ok ? o : undefined }, 10_000, 20)
  t.same(outcome, { ok: true })
  t.equal((await stored(hub, a)).status, 'STARTING')
})

t.test('at most lanes × maxQueue reports wait for an answer; beyond that the hub says it is overloaded', async t => {
  const { hub, node, ingest, report } = await setup(t, { maxQueue: 2 })
  const [a] = node.servers as [string]
  // Another connection holds the server's row lock, so the thread's first batch waits on it.
  const holder = new pg.Client({ connectionString: hub.app.db.poolOptions.url })
  await holder.connect()
  t.teardown(async () => { await holder.end() })
  await holder.query('BEGIN')
  await holder.query('SELECT 1 FROM servers WHERE id = $1 FOR UPDATE', [a])
  const waiting = [ingest.submit(report(a, 'STARTING')), ingest.submit(report(a, 'RUNNING'))]
  t.same(await ingest.submit(report(a, 'STOPPING')), { ok: false, code: 'INTERNAL', message: 'hub overloaded; resend later' })
  await holder.query('ROLLBACK')
  t.same(await Promise.all(waiting), [{ ok: true }, { ok: true }], 'the two that waited are stored once the lock goes')
  t.equal((await stored(hub, a)).status, 'RUNNING')
})

t.test('drain commits what is queued, then refuses', async t => {
  const { hub, node, ingest, report } = await setup(t)
  const [a, b, c] = node.servers as [string, string, string]
  const queued = [a, b, c].map(id => ingest.submit(report(id, 'STARTING')))
  await ingest.drain()
  t.same(await Promise.all(queued), Array(3).fill({ ok: true }), 'reports submitted before the drain are stored')
  for (const id of [a, b, c]) t.equal((await stored(hub, id)).status, 'STARTING')
  t.same(await ingest.submit(report(a, 'RUNNING')), { ok: false, code: 'INTERNAL', message: 'hub shutting down; resend later' })
})
