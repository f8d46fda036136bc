// Issue 10 item 2: any database role can NOTIFY any channel with any payload. Before the fix,
// `NOTIFY hub_events, 'x'` made BigInt() throw inside the event feed's listener, uncaught, and the
// hub process exited. Every payload on every channel the hub LISTENs to is untrusted: parsed
// defensively, logged, ignored. This test sends garbage to each and checks that both feeds still
// work afterwards (the test process is the hub's: a crash fails it).
import t from 'tap'
import { startTestHub } from '../helpers/hub.ts'
import { addNode, connectRaw, hello } from '../helpers/raw-agent.ts'

const CHANNELS = ['hub_events', 'hub_auth']

const GARBAGE = [
  'x', '', ' ', '-1', '0', '1.5', '1e3', '0x10', '99999999999999999999999999', 'NaN', 'null', 'true', '[]', '{}', '"id"',
  '{"sessionId":5}', '{"userId":null}', '{"serverId":"not-a-uuid"}', '{"__proto__":{"x":1}}',
  '{"nodeId":"6F1C3C1E-1D7B-4B7E-9C1A-0A1B2C3D4E5F"}',
  '{"userId":"6f1c3c1e-1d7b-4b7e-9c1a-0a1b2c3d4e5f","nodeId":"6f1c3c1e-1d7b-4b7e-9c1a-0a1b2c3d4e5f"}',
  '{"nodeId":"6f1c3c1e-1d7b-4b7e-9c1a-0a1b2c3d4e5f"', '\u00e9\u{1F3AE}', 'y'.repeat(7_000)
]

t.test('garbage NOTIFY payloads on every channel are ignored; the hub keeps working', async t => {
  const hub = await startTestHub(t)
  const { nodeId, agentToken, servers } = await addNode(hub, 'n1', 1)
  const agent = await connectRaw(hub, agentToken)
  t.teardown(async () => { await agent.close() })
  await hello(agent, servers)
  const [serverId] = servers as [string]

  const pool = hub.app.db.pool
  for (const channel of CHANNELS) {
    for (const payload of GARBAGE) await pool.query('SELECT pg_notify($1, $2)', [channel, payload])
  }
  // The upper-case spelling of this node's id must not reach the registry either.
  await pool.query('SELECT pg_notify($1, $2)', ['hub_auth', JSON.stringify({ nodeId: nodeId.toUpperCase() })])

  // The event feed still carries events: a status commits, its event reaches the bus.
  const published = new Promise<void>(resolve => {
    const off = hub.app.bus.subscribe(events => { if (events.some(e => e.kind === 'server.status')) { off(); resolve() } })
  })
  agent.send({ type: 'status', serverId, status: 'STARTING', seq: 1, at: new Date().toISOString() })
  t.same(await agent.next('status.ack'), { type: 'status.ack', serverId, seq: 1 })
  await Promise.race([published, new Promise((_resolve, reject) => setTimeout(() => reject(new Error('no event on the bus within 5 s')), 5_000).unref())])
  t.pass('the event feed still publishes')

  // The auth feed still applies real changes: a token version bumped behind the hub's back, then
  // announced, closes the agent (only the auth feed can do that here).
  await pool.query('UPDATE nodes SET token_version = token_version + 1 WHERE id = $1', [nodeId])
  await pool.query('SELECT pg_notify($1, $2)', ['hub_auth', JSON.stringify({ nodeId })])
  t.same(await agent.closed, [4401, 'agent token rotated'], 'the auth feed still works')
})
