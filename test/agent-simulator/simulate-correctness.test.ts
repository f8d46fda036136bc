// The end-of-run check: acked transitions must be stored. A deliberately lossy fake hub (it acks
// every status but stores only some) must be caught; an honest one must pass. Every wait is bounded.
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { createAgentClient } from '../../agent-simulator/agent-client.ts'
import { createApiClient } from '../../agent-simulator/cli/api-client.ts'
import {
  apiTransitionSource, checkAckedTransitions, compareAcked, type StoredByServer, type TransitionSource
} from '../../agent-simulator/cli/correctness.ts'
import type { AckedByServer } from '../../agent-simulator/cli/worker-protocol.ts'
import type { AgentStatus } from '../../src/agent-protocol/index.ts'
import { startFakeHub, within } from './fake-hub.ts'

const S1 = '6f1c3c1e-1d7b-4b7e-9c1a-0a1b2c3d4e5f'
const TOKEN = 'agent-token-for-tests'
const CYCLE: AgentStatus[] = ['STARTING', 'RUNNING', 'STOPPING', 'STOPPED']

const memorySource = (stored: StoredByServer): TransitionSource => ({ name: 'memory', load: async () => stored })

t.test('compareAcked: missing rows and rows with another status are violations', async (t) => {
  const acked: AckedByServer = { [S1]: { seqs: [1, 2, 3], statuses: ['STARTING', 'RUNNING', 'STOPPING'] } }
  const stored: StoredByServer = new Map([[S1, new Map([[1, 'STARTING'], [3, 'CRASHED']])]])
  const r = compareAcked(acked, stored)
  t.equal(r.checked, 3)
  t.equal(r.missing, 1)
  t.equal(r.wrongStatus, 1)
  t.same(r.violations.map((v) => v.kind), ['missing-transition', 'wrong-status'])
  t.match(r.violations[0]?.message, /seq 2 \(RUNNING\) was acked but is not stored/)
})

t.test('compareAcked lists at most maxListed violations but counts them all', async (t) => {
  const seqs = Array.from({ length: 100 }, (_, i) => i + 1)
  const r = compareAcked({ [S1]: { seqs, statuses: seqs.map(() => 'RUNNING') } }, new Map(), 10)
  t.equal(r.missing, 100)
  t.equal(r.violations.length, 10)
})

/** Runs one real agent client against a fake hub that acks every status but stores only those `keep` accepts. */
async function runAgainstFakeHub (t: { teardown (fn: () => unknown): void }, keep: (seq: number) => boolean, count: number) {
  const hub = await startFakeHub(TOKEN)
  const stored: StoredByServer = new Map([[S1, new Map()]])
  const acked: AckedByServer = {}
  const client = createAgentClient({
    url: hub.url,
    token: TOKEN,
    servers: [{ serverId: S1, status: 'STOPPED', seq: 0 }],
    onAck: (_ms, ack, status) => {
      const list = (acked[ack.serverId] ??= { seqs: [], statuses: [] })
      list.seqs.push(ack.seq)
      list.statuses.push(status)
    }
  })
  t.teardown(async () => { await client.close(); await hub.close() })
  const connected = client.connect()
  const conn = await hub.connections.take('a connection')
  await conn.frames.take('hello')
  conn.welcome({ [S1]: 0 })
  await within(connected, 'welcome')
  const acks: Array<Promise<unknown>> = []
  for (let i = 0; i < count; i++) acks.push(client.report(S1, CYCLE[i % CYCLE.length] as AgentStatus))
  for (let i = 0; i < count; i++) {
    const frame = await conn.frames.take(`status ${i + 1}`)
    if (frame.type !== 'status') throw new Error(`expected a status, got ${frame.type}`)
    // The lossy hub's bug: it acks before (and without) persisting some statuses.
    if (keep(frame.seq)) stored.get(S1)?.set(frame.seq, frame.status)
    conn.ack(frame.serverId, frame.seq)
  }
  await within(Promise.all(acks), 'every ack')
  return { acked, stored }
}

t.test('a lossy hub is caught', async (t) => {
  const { acked, stored } = await runAgainstFakeHub(t, (seq) => seq % 4 !== 0, 12)
  const r = await checkAckedTransitions(acked, memorySource(stored))
  t.equal(r.checked, 12)
  t.equal(r.missing, 3, 'seqs 4, 8 and 12 were acked but never stored')
  t.same(r.violations.map((v) => v.message.match(/seq (\d+)/)?.[1]), ['4', '8', '12'])
})

t.test('an honest hub passes', async (t) => {
  const { acked, stored } = await runAgainstFakeHub(t, () => true, 8)
  const r = await checkAckedTransitions(acked, memorySource(stored))
  t.equal(r.checked, 8)
  t.equal(r.missing, 0)
  t.same(r.violations, [])
})

t.test('the API source pages back through GET /api/servers/:id/transitions', async (t) => {
  // 25 transitions, newest first, served 10 per page with `next` = the last id, as PROTOCOL.md says.
  const rows = Array.from({ length: 25 }, (_, i) => ({ id: `t${25 - i}`, seq: 25 - i, to: 'RUNNING' }))
  const requests: string[] = []
  const server = createServer((req, res) => {
    requests.push(req.url ?? '')
    const url = new URL(req.url ?? '/', 'http://x')
    const before = url.searchParams.get('before')
    const start = before === null ? 0 : rows.findIndex((r) => r.id === before) + 1
    const items = rows.slice(start, start + 10)
    const next = start + 10 < rows.length ? items[items.length - 1]?.id ?? null : null
    res.setHeader('content-type', 'application/json')
    res.end(JSON.stringify({ items, next }))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  const api = createApiClient(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)
  const acked: AckedByServer = { [S1]: { seqs: [3, 4, 20], statuses: ['RUNNING', 'RUNNING', 'RUNNING'] } }
  const r = await checkAckedTransitions(acked, apiTransitionSource(api))
  t.equal(r.source, 'api')
  t.equal(r.missing, 0)
  t.equal(requests.length, 3, 'stops once the oldest acked seq is covered')
  t.match(requests[1], /before=t16/)
})
