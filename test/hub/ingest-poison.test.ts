// Issue 10 item 1: one poisoned status report among 100 good ones from other agents. Before the
// canonical-id and agent-instant rules, an upper-case serverId or a leap-second `at` reached the
// group commit and PostgreSQL refused the whole batch: every report that shared it got INTERNAL,
// again on every resend. Now the codec refuses the poison at the edge (BAD_FRAME) and every
// other report is acked.
import t from 'tap'
import { startTestHub } from '../helpers/hub.ts'
import { addNode, connectRaw, hello, type RawAgent } from '../helpers/raw-agent.ts'

const AGENTS = 20
const SERVERS_EACH = 5

t.test('one poisoned report among 100 good ones from other agents: all 100 acked, the poison refused at the edge', async t => {
  const hub = await startTestHub(t)
  const good: Array<{ agent: RawAgent, servers: string[] }> = []
  for (let i = 0; i < AGENTS; i++) {
    const node = await addNode(hub, `good-${i}`, SERVERS_EACH)
    const agent = await connectRaw(hub, node.agentToken)
    t.teardown(async () => { await agent.close() })
    await hello(agent, node.servers)
    good.push({ agent, servers: node.servers })
  }
  const bad = await addNode(hub, 'poison', 1)
  const poison = await connectRaw(hub, bad.agentToken)
  t.teardown(async () => { await poison.close() })
  await hello(poison, bad.servers)
  const [target] = bad.servers as [string]

  const at = new Date().toISOString()
  // Everything goes out in one burst, so reports of many agents share batches.
  for (const { agent, servers } of good.slice(0, AGENTS / 2)) for (const serverId of servers) agent.send({ type: 'status', serverId, status: 'STARTING', seq: 1, at })
  poison.send({ type: 'status', serverId: target.toUpperCase(), status: 'STARTING', seq: 1, at })
  poison.send({ type: 'status', serverId: target, status: 'STARTING', seq: 1, at: '2016-12-31T23:59:60Z' })
  for (const { agent, servers } of good.slice(AGENTS / 2)) for (const serverId of servers) agent.send({ type: 'status', serverId, status: 'STARTING', seq: 1, at })

  let acked = 0
  for (const { agent, servers } of good) {
    for (const serverId of servers) {
      const ack = await agent.next(m => (m.type === 'status.ack' && m.serverId === serverId) || m.type === 'error', 10_000)
      t.same(ack, { type: 'status.ack', serverId, seq: 1 }, `${serverId} acked`)
      if (ack.type === 'status.ack') acked++
    }
  }
  t.equal(acked, AGENTS * SERVERS_EACH, 'all 100 acked')
  t.match(await poison.next('error'), { code: 'BAD_FRAME', message: /serverId: must be a lower-case UUID/ }, 'an upper-case id is refused at the edge')
  t.match(await poison.next('error'), { code: 'BAD_FRAME', message: /at: must match format "agent-instant"/ }, 'a leap second is refused at the edge')

  const prisma = hub.app.db.prisma
  t.equal(await prisma.serverStatusTransition.count(), AGENTS * SERVERS_EACH, 'the 100 are written')
  t.equal((await prisma.server.findUniqueOrThrow({ where: { id: target } })).status, 'STOPPED', 'the poison is not')

  // The poisoned agent's next, valid report is stored like any other.
  poison.send({ type: 'status', serverId: target, status: 'STARTING', seq: 1, at })
  t.same(await poison.next('status.ack'), { type: 'status.ack', serverId: target, seq: 1 })
})
