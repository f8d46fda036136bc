// /metrics carries what an operator pages on (docs/operations.md).
import t from 'tap'
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
