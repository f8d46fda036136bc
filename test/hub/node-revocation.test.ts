// Issue 10 item 7: rotating a node's token or deleting the node on hub A closes that node's agent
// connected to hub B (4401), through the auth feed, as session and permission revocation do.
// An agent that already reconnected with the new token is spared.
import t from 'tap'
import WebSocket from 'ws'
import { startTestHub } from '../helpers/hub.ts'
import { addNode, connectRaw, hello } from '../helpers/raw-agent.ts'

const WAIT_MS = 5_000

async function within<T> (promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => { timer = setTimeout(() => reject(new Error(`no ${what} within ${WAIT_MS} ms`)), WAIT_MS) })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}

t.test('a token rotated on one hub closes the agent on another; the new token is spared', async t => {
  const a = await startTestHub(t)
  const b = await startTestHub(t, {}, { databaseUrl: a.databaseUrl })
  const { nodeId, agentToken, servers } = await addNode(a, 'n1', 1)
  const onB = await connectRaw(b, agentToken)
  t.teardown(async () => { await onB.close() })
  await hello(onB, servers)

  const res = await a.request('POST', `/api/nodes/${nodeId}/token`, { token: await a.adminToken() })
  t.equal(res.status, 201)
  t.same(await within(onB.closed, 'close on hub b'), [4401, 'agent token rotated'], 'closed on the other hub')

  // The agent comes back with the new token; a later revocation check (here: the same
  // notification again, as after a duplicate) leaves it alone, since its token is current.
  const fresh = await connectRaw(b, res.body.agentToken)
  t.teardown(async () => { await fresh.close() })
  await hello(fresh, servers)
  await a.app.db.pool.query("SELECT pg_notify('hub_auth', $1)", [JSON.stringify({ nodeId })])
  // A ping through b's own auth feed: once a later notification is handled, the first one was.
  const later = await addNode(a, 'n2', 0)
  const second = await connectRaw(b, later.agentToken)
  t.teardown(async () => { await second.close() })
  await hello(second, [])
  await a.request('DELETE', `/api/nodes/${later.nodeId}`, { token: await a.adminToken() })
  t.same(await within(second.closed, 'close of n2'), [4401, 'node deleted'])
  t.equal(fresh.ws.readyState, WebSocket.OPEN, 'the agent holding the new token stays connected')
})

t.test('a node deleted on one hub closes its agent on another', async t => {
  const a = await startTestHub(t)
  const b = await startTestHub(t, {}, { databaseUrl: a.databaseUrl })
  const { nodeId, agentToken } = await addNode(a, 'n1', 0)
  const onB = await connectRaw(b, agentToken)
  t.teardown(async () => { await onB.close() })
  await hello(onB, [])
  const res = await a.request('DELETE', `/api/nodes/${nodeId}`, { token: await a.adminToken() })
  t.equal(res.status, 204)
  t.same(await within(onB.closed, 'close on hub b'), [4401, 'node deleted'], 'closed on the other hub')
})
