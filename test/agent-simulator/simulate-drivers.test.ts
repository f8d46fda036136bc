// The panel and action drivers: their pure bookkeeping (gap, order and completeness checks; the
// final-state check; correlation of command receipts), then each driver against a deliberately
// lossy fake hub, which must be caught. Every wait is bounded.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import { WebSocketServer, type WebSocket } from 'ws'
import { commandDelayMs, createActionLedger, pickAction } from '../../agent-simulator/cli/action-ledger.ts'
import { createApiClient, type ApiClient } from '../../agent-simulator/cli/api-client.ts'
import { createActionDriver } from '../../agent-simulator/cli/action-driver.ts'
import { createPanelDriver } from '../../agent-simulator/cli/panel-driver.ts'
import { createPanelLedger, defaultPerPanel, panelSlices } from '../../agent-simulator/cli/panel-ledger.ts'
import type { AckedByServer, WorkerAgent } from '../../agent-simulator/cli/worker-protocol.ts'

const S1 = '00000000-0000-4000-8000-000000000001'
const S2 = '00000000-0000-4000-8000-000000000002'
const CYCLE = ['STOPPED', 'STARTING', 'RUNNING', 'STOPPING']
/** The event of seq n on a server cycling STOPPED -> STARTING -> RUNNING -> STOPPING -> STOPPED. */
const step = (serverId: string, seq: number) => ({ serverId, from: CYCLE[(seq - 1) % 4] as string, to: CYCLE[seq % 4] as string, seq })
const ackedOf = (serverId: string, seqs: number[]): AckedByServer => ({ [serverId]: { seqs, statuses: seqs.map((s) => CYCLE[s % 4] as string) } })

t.test('panel ledger: a complete, ordered stream passes', async (t) => {
  const l = createPanelLedger(0, [S1])
  l.snapshot(S1, 'STOPPED')
  for (let seq = 1; seq <= 8; seq++) l.status(step(S1, seq))
  const c = l.check(ackedOf(S1, [1, 2, 3, 4, 5, 6, 7, 8]))
  t.same(c, { expected: 8, missing: 0, excusedByResync: 0, outOfOrder: 0, gaps: 0, violations: [] })
  t.equal(l.behind(ackedOf(S1, [9])), 1)
})

t.test('panel ledger: a dropped event is a gap and a missing acked seq', async (t) => {
  const l = createPanelLedger(3, [S1])
  l.snapshot(S1, 'STOPPED')
  for (const seq of [1, 2, 4, 5]) l.status(step(S1, seq))
  const c = l.check(ackedOf(S1, [1, 2, 3, 4, 5]))
  t.equal(c.missing, 1)
  t.equal(c.gaps, 1)
  t.same(c.violations.map((v) => v.kind).sort(), ['panel-gap', 'panel-missing-event'])
  t.match(c.violations.find((v) => v.kind === 'panel-missing-event')?.message, /panel 3: server .*: acked seq 3 never arrived/)
})

t.test('panel ledger: holes in seqs alone are no gap (a refused status uses a seq); the hub\'s null seqs are exempt', async (t) => {
  const l = createPanelLedger(0, [S1])
  l.snapshot(S1, 'STOPPED')
  l.status({ serverId: S1, from: 'STOPPED', to: 'STARTING', seq: 1 })
  l.status({ serverId: S1, from: 'STARTING', to: 'RUNNING', seq: 3 })
  l.status({ serverId: S1, from: 'RUNNING', to: 'UNKNOWN', seq: null })
  l.status({ serverId: S1, from: 'UNKNOWN', to: 'RUNNING', seq: 4 })
  t.same(l.check(ackedOf(S1, [1, 3, 4])).violations, [])
})

t.test('panel ledger: seqs going back, event ids going back and foreign servers are violations', async (t) => {
  const l = createPanelLedger(1, [S1])
  l.status(step(S1, 2))
  l.status(step(S1, 1))
  l.status(step(S2, 1))
  l.idOrder(2)
  const c = l.check({})
  t.equal(c.outOfOrder, 2, 'the larger of the seq count and the event-id count')
  t.same([...new Set(c.violations.map((v) => v.kind))].sort(), ['panel-foreign-event', 'panel-gap', 'panel-out-of-order'])
})

t.test('panel ledger: after a resync, missing events are excused and continuity restarts', async (t) => {
  const l = createPanelLedger(0, [S1])
  l.snapshot(S1, 'STOPPED')
  l.status(step(S1, 1))
  l.resync()
  l.status(step(S1, 4)) // the latest state after the hub coalesced 2 and 3
  const c = l.check(ackedOf(S1, [1, 2, 3, 4]))
  t.same({ missing: c.missing, excused: c.excusedByResync, gaps: c.gaps, violations: c.violations }, { missing: 0, excused: 2, gaps: 0, violations: [] })
  t.equal(l.resyncs, 1)
})

t.test('panel slices cover every server and overlap evenly', async (t) => {
  const ids = Array.from({ length: 10 }, (_, i) => `s${i}`)
  const slices = panelSlices(ids, 4, 5)
  t.same(slices.map((s) => s.length), [5, 5, 5, 5])
  t.same(slices[3], ['s7', 's8', 's9', 's0', 's1'], 'wraps around')
  const watchers = new Map(ids.map((id) => [id, 0]))
  for (const s of slices) for (const id of s) watchers.set(id, (watchers.get(id) ?? 0) + 1)
  t.ok([...watchers.values()].every((n) => n >= 1), 'every server watched')
  t.equal(defaultPerPanel(5000, 100), 100, 'at least 100')
  t.equal(defaultPerPanel(50_000, 100), 500, 'an even share')
  t.equal(defaultPerPanel(30, 100), 30, 'all when fewer')
  t.same(panelSlices(['a', 'b'], 3, 100).map((s) => [...s].sort()), [['a', 'b'], ['a', 'b'], ['a', 'b']], 'all to all when small')
})

t.test('action ledger: correlates commands that arrive before the 202, and checks final states', async (t) => {
  const recorded: Array<[string, number]> = []
  const l = createActionLedger((name, ms) => recorded.push([name, ms]))
  l.command('a1', 1010) // the agent got it before the POST answered
  l.accepted('a1', S1, 'START', 1000)
  l.accepted('a2', S1, 'STOP', 2000)
  l.command('a2', 2005)
  l.command('a2', 2500) // a redelivery: the first receipt counts
  l.accepted('a3', S2, 'RESTART', 3000)
  l.observed('a1', { state: 'SUCCEEDED', completedAt: new Date(1500).toISOString(), errorCode: null })
  l.observed('a2', { state: 'FAILED', completedAt: new Date(2600).toISOString(), errorCode: 'SIM_FAILURE' })
  l.observed('a1', { state: 'QUEUED', completedAt: null, errorCode: null }) // never leaves a final state
  t.same(recorded, [['actionCommand', 10], ['actionCommand', 5], ['actionSucceeded', 500]])
  t.same(l.pending(), ['a3'])
  const c = l.check()
  t.same({ accepted: c.accepted, final: c.final, byState: c.byState, byError: c.byError, withoutCommand: c.withoutCommand },
    { accepted: 3, final: 2, byState: { SUCCEEDED: 1, FAILED: 1, QUEUED: 1 }, byError: { SIM_FAILURE: 1 }, withoutCommand: 1 })
  t.equal(c.violations.length, 1)
  t.match(c.violations[0], { kind: 'action-not-final', message: /action a3 \(RESTART on server .*\) was accepted but is still QUEUED/ })
})

t.test('action helpers: every type is picked, delays are realistic', async (t) => {
  t.same([0.01, 0.2, 0.5, 0.9].map((r) => pickAction(() => r)), ['KILL', 'START', 'STOP', 'RESTART'])
  t.ok(commandDelayMs('START', () => 0.5) >= 1000)
  t.ok(commandDelayMs('KILL', () => 0.99) < 250)
})

const agentsOf = (serverIds: string[]): WorkerAgent[] => [{ nodeId: 'n1', token: 'x', servers: serverIds.map((serverId) => ({ serverId, status: 'STOPPED', seq: 0 })) }]

/**
 * A fake actions API: every 4th POST is a 409 and every 7th a 500; the rest are accepted, and
 * `GET /api/actions/:id` reports them SUCCEEDED, except the ones `lose` names, which stay ACKED.
 */
async function fakeActionsApi (t: Test, lose: (n: number) => boolean) {
  let n = 0
  // Resolves once `count` POSTs have come in (or rejects after 5 s).
  const waiting: Array<{ count: number, resolve: () => void }> = []
  const posted = async (count: number) => await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${n} of ${count} POSTs within 5 s`)), 5_000)
    waiting.push({ count, resolve: () => { clearTimeout(timer); resolve() } })
  })
  const actions = new Map<string, { lost: boolean, at: number }>()
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume()
    req.on('end', () => {
      const json = (status: number, body: unknown) => { res.writeHead(status, { 'content-type': 'application/json' }); res.end(JSON.stringify(body)) }
      if (req.method === 'POST') {
        n++
        for (const w of waiting.filter(w => n >= w.count)) { waiting.splice(waiting.indexOf(w), 1); w.resolve() }
        if (n % 4 === 0) return json(409, { error: { code: 'CONFLICT', message: 'busy' } })
        if (n % 7 === 0) return json(500, { error: { code: 'INTERNAL', message: 'oops' } })
        const id = `act-${n}`
        actions.set(id, { lost: lose(n), at: Date.now() })
        return json(202, { actionId: id, state: 'QUEUED' })
      }
      const a = actions.get(req.url?.split('/').pop() ?? '')
      if (a === undefined) return json(404, { error: { code: 'NOT_FOUND', message: 'no' } })
      json(200, a.lost ? { state: 'ACKED', completedAt: null, errorCode: null } : { state: 'SUCCEEDED', completedAt: new Date(a.at + 5).toISOString(), errorCode: null })
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, actions, posted }
}

async function runActions (t: Test, lose: (n: number) => boolean) {
  const fake = await fakeActionsApi(t, lose)
  const driver = createActionDriver({ ratePerS: 100, drainMs: 1500 })
  t.teardown(() => driver.stop())
  await driver.start({ api: createApiClient(fake.url), hubUrl: fake.url, agents: agentsOf([S1, S2]), log: () => {} })
  // 28 POSTs include 409s (every 4th), 500s (every 7th) and accepted ones.
  await fake.posted(28)
  const sample = driver.sample()
  await driver.drain()
  return { fake, sample, verdict: await driver.verify({}) }
}

t.test('action driver: an honest API passes; 409s are conflicts, 500s server errors', async (t) => {
  const { fake, sample, verdict } = await runActions(t, () => false)
  t.same(verdict.violations, [])
  t.ok(fake.actions.size > 5, `${fake.actions.size} actions accepted`)
  const totals = verdict.details.totals as Record<string, number>
  t.ok((totals.actionConflicts ?? 0) > 0 && (totals.actionServerErrors ?? 0) > 0)
  t.equal(totals.actionOtherErrors, 0)
  t.equal(totals.actionsAccepted, fake.actions.size)
  t.ok((sample.counters.actionsPosted ?? 0) > 0)
})

t.test('action driver: actions that never reach a final state are caught', async (t) => {
  const { fake, verdict } = await runActions(t, (n) => n % 3 === 0)
  const lost = [...fake.actions.values()].filter((a) => a.lost).length
  t.ok(lost > 0)
  t.equal(verdict.violations.filter((v) => v.kind === 'action-not-final').length, lost)
  t.match(verdict.details.drain, { leftPending: lost })
})

/**
 * A fake /panel/v1 (and POST /api/ws-ticket, for the panels that use tickets) that answers a
 * subscribe with a snapshot and then sends seqs 1..10 of each server, skipping those `drop` names.
 */
async function fakePanelHub (t: Test, drop: (seq: number) => boolean) {
  const auth: string[] = []
  const http = createServer((req, res) => {
    res.writeHead(201, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ ticket: 'tk', expiresAt: new Date().toISOString() }))
  })
  const wss = new WebSocketServer({ server: http })
  let eventId = 100
  wss.on('connection', (ws: WebSocket, req: IncomingMessage) => {
    auth.push(req.headers.authorization ?? req.url ?? '')
    ws.send(JSON.stringify({ type: 'ready', userId: 'u', expiresAt: new Date(Date.now() + 60_000).toISOString() }))
    ws.on('message', (data) => {
      const msg = JSON.parse(String(data)) as { type: string, id: number, servers: string[] }
      if (msg.type !== 'subscribe') return
      ws.send(JSON.stringify({ type: 'subscribed', id: msg.id, servers: msg.servers.map((serverId) => ({ serverId, name: 'x', nodeId: 'n1', status: 'STOPPED', updatedAt: '' })), lastEventId: String(eventId) }))
      // Events follow the snapshot in the same write, as the hub's corked chunks do.
      for (const serverId of msg.servers) {
        for (let seq = 1; seq <= 10; seq++) {
          eventId++
          if (!drop(seq)) ws.send(JSON.stringify({ type: 'event', eventId: String(eventId), kind: 'server.status', data: step(serverId, seq), at: new Date().toISOString() }))
        }
      }
    })
  })
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => { for (const c of wss.clients) c.terminate(); wss.close(); http.close(() => resolve()) }))
  return { url: `http://127.0.0.1:${(http.address() as AddressInfo).port}`, auth }
}

async function runPanels (t: Test, drop: (seq: number) => boolean) {
  const { url, auth } = await fakePanelHub(t, drop)
  const api: ApiClient = { baseUrl: url, token: 'session', login: async () => {}, request: async () => { throw new Error('unused') } }
  const driver = createPanelDriver({ panels: 2, stallFraction: 0, perPanel: undefined, catchUpMs: 1000 })
  t.teardown(() => driver.stop())
  await driver.start({ api, hubUrl: url, agents: agentsOf([S1, S2]), log: () => {} })
  const acked: AckedByServer = { ...ackedOf(S1, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]), ...ackedOf(S2, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]) }
  await driver.drain()
  const verdict = await driver.verify(acked)
  return { verdict, auth }
}

t.test('panel driver: a hub that delivers everything passes', async (t) => {
  const { verdict, auth } = await runPanels(t, () => false)
  t.same(verdict.violations, [])
  t.match(verdict.details, { panels: 2, serversPerPanel: 2, expectedEvents: 40, missingEvents: 0, gaps: 0 })
  t.same(auth.sort(), ['/panel/v1?ticket=tk', 'Bearer session'], 'one panel with the header, one with a ticket')
})

t.test('panel driver: a lossy hub is caught', async (t) => {
  const { verdict } = await runPanels(t, (seq) => seq === 4 || seq === 9)
  t.ok(verdict.violations.some((v) => v.kind === 'panel-missing-event'))
  t.ok(verdict.violations.some((v) => v.kind === 'panel-gap'))
  t.match(verdict.details, { missingEvents: 8, gaps: 8 })
})
