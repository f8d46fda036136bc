// /metrics carries what an operator pages on (docs/operations.md).
import t from 'tap'
import { createPanelClient } from '../../agent-simulator/panel-client.ts'
import { frameType } from '../../src/hub/connection/frame-meter.ts'
import { startTestHub, type TestHub } from '../helpers/hub.ts'
import { addNode, connectRaw, hello } from '../helpers/raw-agent.ts'

async function scrape (hub: TestHub): Promise<Map<string, number>> {
  const res = await hub.request('GET', '/metrics')
  const values = new Map<string, number>()
  for (const line of String(res.body).split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const at = line.lastIndexOf(' ')
    values.set(line.slice(0, at), Number(line.slice(at + 1)))
  }
  return values
}

t.test('connections, actions by state and timeouts, event-feed lag, queue jobs, prunes', async t => {
  const hub = await startTestHub(t, { pruneCron: '0 0 1 1 *' })
  const node = await addNode(hub, 'metrics-node', 2)
  const agent = await connectRaw(hub, node.agentToken)
  t.teardown(() => agent.close())
  await hello(agent, node.servers)
  const { pool } = hub.app.db
  await pool.query("INSERT INTO server_actions (server_id, action, state, deadline_at, updated_at) VALUES ($1, 'START', 'QUEUED', now() + interval '1 minute', now())", [node.servers[0]])
  await pool.query("INSERT INTO server_actions (server_id, action, state, completed_at, error_code, updated_at) VALUES ($1, 'STOP', 'EXPIRED', now(), 'ACK_TIMEOUT', now())", [node.servers[1]])
  await hub.app.retention.prune('tickets')

  // The feed delivers the hello's events asynchronously: scrape until it has caught up (≤ 5 s).
  let m = await scrape(hub)
  for (let i = 0; i < 50 && m.get('hub_event_feed_lag_events') !== 0; i++) {
    await new Promise(resolve => setTimeout(resolve, 100))
    m = await scrape(hub)
  }
  t.equal(m.get('hub_agents_connected'), 1)
  t.equal(m.get('hub_panels_connected'), 0)
  t.equal(m.get('hub_actions_live{state="QUEUED"}'), 1)
  t.equal(m.get('hub_actions_live{state="ACKED"}'), 0)
  t.equal(m.get('hub_actions_finished_recent{state="EXPIRED",code="ACK_TIMEOUT"}'), 1, 'timeouts by code')
  t.equal(m.get('hub_event_feed_lag_events'), 0, 'the feed caught up')
  t.equal(m.get('hub_queue_jobs{queue="hub-prune-events",state="failed"}'), 0, 'pg-boss jobs by queue and state')
  t.ok(m.has('hub_queue_jobs{queue="server-action",state="queued"}'))
  t.equal(m.get('hub_retention_prunes{prune="tickets"}'), 0, 'scheduled runs only (a direct prune() is not one)')
  t.equal(m.get('hub_operations_read_ok'), 1)
})

t.test('frames in and out by socket and type, write batch sizes and queue depths', async t => {
  const hub = await startTestHub(t)
  const node = await addNode(hub, 'frames-node', 1)
  const agent = await connectRaw(hub, node.agentToken)
  t.teardown(() => agent.close())
  await hello(agent, node.servers)
  agent.send({ type: 'status', serverId: node.servers[0], status: 'STARTING', seq: 1, at: new Date().toISOString() })
  await agent.next('status.ack')
  // Not a protocol type: counted as unknown (the label set stays bounded), answered with an error.
  agent.send({ type: 'made.up', x: 1 })
  await agent.next('error')
  const p = createPanelClient({ url: hub.url, token: await hub.adminToken() })
  t.teardown(() => p.close())
  await p.connect()
  await p.ping()

  const m = await scrape(hub)
  const frames = (socket: string, direction: string, type: string) => m.get(`hub_ws_frames_total{socket="${socket}",direction="${direction}",type="${type}"}`)
  t.equal(frames('agent', 'in', 'hello'), 1)
  t.equal(frames('agent', 'in', 'status'), 1)
  t.equal(frames('agent', 'in', 'unknown'), 1, 'a frame of no protocol type')
  t.equal(frames('agent', 'out', 'welcome'), 1)
  t.equal(frames('agent', 'out', 'status.ack'), 1)
  t.equal(frames('agent', 'out', 'error'), 1)
  t.equal(frames('panel', 'out', 'ready'), 1)
  t.equal(frames('panel', 'in', 'ping'), 1)
  t.equal(frames('panel', 'out', 'pong'), 1)
  t.ok([...m.keys()].filter(k => k.startsWith('hub_ws_frames_total{')).every(k => !k.includes('made.up')), 'no label from what a peer sent')
  t.equal(m.get('hub_write_batch_size_count{writer="status"}'), 1, 'one status batch')
  t.equal(m.get('hub_write_batch_size_sum{writer="status"}'), 1, 'of one report')
  t.equal(m.get('hub_write_batch_size_bucket{le="1",writer="status"}'), 1)
  for (const writer of ['status', 'action_create', 'action_claim', 'action_reply']) t.equal(m.get(`hub_write_queue_depth{writer="${writer}"}`), 0, `${writer} queue depth`)
})

t.test('frame types: the first "type" of a frame, kept only when the protocol has it', async t => {
  t.equal(frameType('{"type":"command.ack","commandId":"x"}'), 'command.ack')
  t.equal(frameType(Buffer.from('{ "type" : "hello" }')), 'hello')
  t.equal(frameType('{"type":"__proto__"}'), 'unknown')
  t.equal(frameType('{"data":{"x":1}}'), 'unknown')
  t.equal(frameType('not json'), 'unknown')
})
