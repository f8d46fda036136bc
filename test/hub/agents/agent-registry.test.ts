// The registry without sockets or a database: fake sessions, a recorded presence writer, and
// feed events handed in by hand, in the order a feed would deliver them.
import t from 'tap'
import { createAgentRegistry } from '../../../src/hub/agents/agent-registry.ts'
import type { AgentSession } from '../../../src/hub/agents/agent-session.ts'
import type { HubEvent } from '../../../src/hub/bus.ts'

function fakeSession (nodeId: string) {
  const closes: Array<[number, string]> = []
  const session: AgentSession = { nodeId, onFrame () {}, onPong () {}, onClosed () {}, isReady: () => true, owns: () => false, disown () {}, sendCommand () {}, hasFeature: () => false, startsReplay: () => false, sendFeature () {}, close: (code, reason) => { closes.push([code, reason]) } }
  return { session, closes }
}

function harness (failWrites = false) {
  const writes: Array<{ nodeId: string, connectionId: string, connected: boolean }> = []
  const warnings: string[] = []
  let n = 0
  const registry = createAgentRegistry({
    write: async change => {
      writes.push(change)
      if (failWrites) throw new Error('database down')
    },
    log: { warn: (_obj, msg) => { warnings.push(msg) } },
    newId: () => `conn-${++n}`
  })
  let id = 0
  const presence = (nodeId: string, connectionId: string, connected = true): HubEvent =>
    ({ id: String(++id), kind: 'node.presence', serverId: null, nodeId, data: { nodeId, connected, connectionId }, at: new Date() })
  return { registry, writes, warnings, presence }
}

const settle = async () => { await new Promise(resolve => setImmediate(resolve)) }

t.test('attach writes a connect; detach writes a disconnect of that connection', async t => {
  const { registry, writes } = harness()
  const a = fakeSession('n1')
  registry.attach(a.session)
  t.equal(registry.get('n1'), a.session)
  t.same(registry.held(), [{ nodeId: 'n1', connectionId: 'conn-1' }])
  registry.detach(a.session)
  t.equal(registry.get('n1'), undefined)
  t.same(writes, [{ nodeId: 'n1', connectionId: 'conn-1', connected: true }, { nodeId: 'n1', connectionId: 'conn-1', connected: false }])
  t.equal(registry.size(), 0)
})

t.test('a newer connection on this hub replaces the older at once (4409); the old one detaching writes nothing', async t => {
  const { registry, writes } = harness()
  const a = fakeSession('n1')
  const b = fakeSession('n1')
  registry.attach(a.session)
  registry.attach(b.session)
  t.same(a.closes, [[4409, 'replaced by a newer connection']])
  registry.detach(a.session)
  t.equal(registry.get('n1'), b.session)
  t.same(writes.map(w => [w.connectionId, w.connected]), [['conn-1', true], ['conn-2', true]], 'no disconnect for the replaced one')
})

t.test('across hubs: the connect that commits later wins', async t => {
  const { registry, presence } = harness()
  const a = fakeSession('n1')
  registry.attach(a.session) // conn-1 here

  // Another hub's connect committed before ours: ours is newer, so we keep it.
  registry.onEvents([presence('n1', 'elsewhere-1')])
  t.same(a.closes, [], 'an earlier foreign connect does not close ours')
  registry.onEvents([presence('n1', 'conn-1')])
  t.same(a.closes, [])

  // A foreign connect after ours (in commit order): ours is the older one.
  registry.onEvents([presence('n1', 'elsewhere-2', false), presence('n2', 'elsewhere-3')])
  t.same(a.closes, [], 'disconnects and other nodes change nothing')
  registry.onEvents([presence('n1', 'elsewhere-4')])
  t.same(a.closes, [[4409, 'replaced by a newer connection on another hub']])
  t.equal(registry.get('n1'), undefined)
})

t.test('a connect that cannot be written closes the session (1001); failures are logged, not thrown', async t => {
  const { registry, warnings } = harness(true)
  const a = fakeSession('n1')
  registry.attach(a.session)
  await settle()
  t.same(a.closes, [[1001, 'hub could not record the connection; reconnect']])
  t.same(warnings, ['presence not persisted'])
})

t.test('closeAll closes every session and writes nothing', async t => {
  const { registry, writes } = harness()
  const a = fakeSession('n1')
  const b = fakeSession('n2')
  registry.attach(a.session)
  registry.attach(b.session)
  writes.length = 0
  registry.closeAll(1001, 'hub shutting down')
  registry.detach(a.session)
  registry.detach(b.session)
  t.same([a.closes, b.closes], [[[1001, 'hub shutting down']], [[1001, 'hub shutting down']]])
  t.same(writes, [], 'nodes stay connected in the database: the next hub gives them the grace')
})
