// The registry without sockets or a database: fake sessions that record their close, timers that
// fire only when the test fires them, and setConnected/markLost fakes that record their calls.
import t from 'tap'
import { createAgentRegistry } from '../../../src/hub/agents/agent-registry.ts'
import type { AgentSession } from '../../../src/hub/agents/agent-session.ts'
import type { HubEvent } from '../../../src/hub/bus.ts'

interface FakeTimer { fn: () => void, ms: number, cancelled: boolean }

function harness (options: { failConnected?: boolean, failLost?: boolean } = {}) {
  const published: HubEvent[] = []
  const connected: Array<[string, boolean]> = []
  const lost: string[] = []
  const warnings: Array<{ obj: object, msg: string }> = []
  const timers: FakeTimer[] = []
  const registry = createAgentRegistry({
    bus: { publish: events => { published.push(...events) }, subscribe: () => () => {} },
    graceMs: 2_000,
    setConnected: async (nodeId, value) => {
      connected.push([nodeId, value])
      if (options.failConnected === true) throw new Error('database down')
    },
    markLost: async nodeId => {
      lost.push(nodeId)
      if (options.failLost === true) throw new Error('database down')
    },
    setTimer: (fn, ms) => {
      const timer: FakeTimer = { fn, ms, cancelled: false }
      timers.push(timer)
      return { cancel: () => { timer.cancelled = true } }
    },
    log: { warn: (obj, msg) => { warnings.push({ obj, msg }) } }
  })
  /** Fires every timer that is due (all are: the test decides that time has passed). */
  const fireAll = () => { for (const timer of timers.splice(0)) if (!timer.cancelled) timer.fn() }
  const live = () => timers.filter(x => !x.cancelled)
  const presence = () => published.filter(e => e.kind === 'node.presence').map(e => e.data)
  return { registry, published, presence, connected, lost, warnings, timers, live, fireAll }
}

function fakeSession (nodeId: string): AgentSession & { closes: Array<[number, string]> } {
  const closes: Array<[number, string]> = []
  return { nodeId, closes, onFrame () {}, onPong () {}, onClosed () {}, close: (code, reason) => { closes.push([code, reason]) } }
}

/** Lets the rejected setConnected/markLost promises reach their catch handlers. */
const settle = async () => { await new Promise(resolve => setImmediate(resolve)) }

t.test('attach publishes presence connected once and persists it', async t => {
  const h = harness()
  const s = fakeSession('n1')
  h.registry.attach(s)
  t.same(h.presence(), [{ nodeId: 'n1', connected: true }])
  t.same(h.connected, [['n1', true]])
  t.equal(h.registry.get('n1'), s)
  t.equal(h.registry.size(), 1)
  t.equal(h.timers.length, 0, 'no timer while connected')
})

t.test('a replacement closes the old session with 4409 and publishes nothing more', async t => {
  const h = harness()
  const first = fakeSession('n1')
  const second = fakeSession('n1')
  h.registry.attach(first)
  h.registry.attach(second)
  t.same(first.closes, [[4409, 'replaced by a newer connection']])
  t.same(second.closes, [])
  t.equal(h.registry.get('n1'), second)
  t.equal(h.registry.size(), 1)
  t.equal(h.published.length, 1, 'only the first attach published')
  t.same(h.connected, [['n1', true]])

  // The replaced socket's close handler detaches it later: that must change nothing.
  h.registry.detach(first)
  t.equal(h.registry.get('n1'), second, 'the new session stays')
  t.equal(h.published.length, 1, 'no disconnected event')
  t.equal(h.timers.length, 0, 'no grace started')
})

t.test('detach publishes disconnected and starts the grace; expiry marks the node lost', async t => {
  const h = harness()
  const s = fakeSession('n1')
  h.registry.attach(s)
  h.registry.detach(s)
  t.same(h.presence(), [{ nodeId: 'n1', connected: true }, { nodeId: 'n1', connected: false }])
  t.same(h.connected, [['n1', true], ['n1', false]])
  t.equal(h.registry.get('n1'), undefined)
  t.equal(h.registry.size(), 0)
  t.equal(h.live().length, 1)
  t.equal(h.live()[0]?.ms, 2_000, 'the grace is graceMs')
  t.same(h.lost, [], 'nothing lost before the grace ends')
  h.fireAll()
  t.same(h.lost, ['n1'])

  h.registry.detach(s)
  t.equal(h.published.length, 2, 'a second detach of the same session does nothing')
})

t.test('coming back within the grace cancels markLost', async t => {
  const h = harness()
  h.registry.attach(fakeSession('n1'))
  h.registry.detach(h.registry.get('n1') as AgentSession)
  const timer = h.live()[0] as FakeTimer
  h.registry.attach(fakeSession('n1'))
  t.equal(timer.cancelled, true, 'the grace timer is cancelled')
  t.same(h.presence().map(p => p.connected), [true, false, true], 'connected again is published')
  // Even if the cancelled timer had already been queued to run, it must not mark the node lost.
  timer.fn()
  t.same(h.lost, [])
})

t.test('grace expiry calls markLost only if the node has not returned', async t => {
  const h = harness()
  h.registry.attach(fakeSession('back'))
  h.registry.attach(fakeSession('gone'))
  h.registry.detach(h.registry.get('back') as AgentSession)
  h.registry.detach(h.registry.get('gone') as AgentSession)
  h.registry.attach(fakeSession('back'))
  // Fire both callbacks, cancelled or not, as a timer that raced its cancel would.
  for (const timer of h.timers.splice(0)) timer.fn()
  t.same(h.lost, ['gone'])
})

t.test('a second detach-grace for the same node replaces the first timer', async t => {
  const h = harness()
  h.registry.attach(fakeSession('n1'))
  h.registry.detach(h.registry.get('n1') as AgentSession)
  h.registry.attach(fakeSession('n1'))
  h.registry.detach(h.registry.get('n1') as AgentSession)
  t.equal(h.live().length, 1, 'one grace timer per node')
  h.fireAll()
  t.same(h.lost, ['n1'], 'marked lost once')
})

t.test('expectReturn gives nodes connected before start-up the same grace', async t => {
  const h = harness()
  h.registry.attach(fakeSession('already-here'))
  h.registry.expectReturn(['already-here', 'returns', 'never-returns'])
  t.equal(h.live().length, 2, 'no grace for a node that is already attached')
  t.equal(h.published.length, 1, 'expectReturn publishes nothing')
  h.registry.attach(fakeSession('returns'))
  h.fireAll()
  t.same(h.lost, ['never-returns'])
})

t.test('closeAll closes every session, cancels the graces, publishes no disconnection', async t => {
  const h = harness()
  const a = fakeSession('a')
  const b = fakeSession('b')
  h.registry.attach(a)
  h.registry.attach(b)
  h.registry.attach(fakeSession('c'))
  h.registry.detach(h.registry.get('c') as AgentSession)
  h.registry.expectReturn(['d'])
  const before = h.published.length
  const timers = h.live()
  t.equal(timers.length, 2)

  h.registry.closeAll(1001, 'hub shutting down')
  t.same(a.closes, [[1001, 'hub shutting down']])
  t.same(b.closes, [[1001, 'hub shutting down']])
  t.ok(timers.every(x => x.cancelled), 'every grace timer is cancelled')
  // The sockets' close handlers then detach their sessions.
  h.registry.detach(a)
  h.registry.detach(b)
  t.equal(h.published.length, before, 'no node.presence disconnected while shutting down')
  t.same(h.connected.filter(([, c]) => !c).map(([n]) => n), ['c'], 'nodes stay connected in the database for the next hub')
  t.same(h.lost, [])
})

t.test('setConnected and markLost failures are logged, not thrown', async t => {
  const h = harness({ failConnected: true, failLost: true })
  const s = fakeSession('n1')
  t.doesNotThrow(() => h.registry.attach(s))
  t.doesNotThrow(() => h.registry.detach(s))
  t.doesNotThrow(() => h.fireAll())
  await settle()
  t.same(h.warnings.map(w => w.msg), ['presence not persisted', 'presence not persisted', 'could not mark lost node servers UNKNOWN'])
  t.match(h.warnings[0]?.obj, { nodeId: 'n1', err: { message: 'database down' } })
  t.match(h.warnings[2]?.obj, { nodeId: 'n1', err: { message: 'database down' } })
  t.same(h.presence().map(p => p.connected), [true, false], 'events are still published')
})
