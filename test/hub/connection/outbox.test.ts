// The connection kernel's outbox without a socket: the bound on direct frames, sendMany's flush,
// and the ephemeral class (own bound, per-key dropped counters, never a close).
import t from 'tap'
import { createOutbox } from '../../../src/hub/connection/outbox.ts'
import { createFakeTransport } from '../../helpers/fake-transport.ts'

function harness (limits = { maxBufferedBytes: 100, ephemeralBytes: 40 }) {
  const transport = createFakeTransport()
  let flushes = 0
  transport.flush = () => { flushes++ }
  let overflows = 0
  const outbox = createOutbox({ transport, limits, onOverflow: () => { overflows++ } })
  return { transport, outbox, overflows: () => overflows, flushes: () => flushes }
}

const frame = (n: number, pad = 0) => JSON.stringify({ n, pad: 'x'.repeat(pad) })

t.test('direct frames: sent up to the bound; the frame that would pass it overflows, once', async t => {
  const h = harness()
  h.transport.grow = true
  t.ok(h.outbox.send(frame(1, 60)))
  t.notOk(h.outbox.send(frame(2, 60)), 'would hold more than 100 bytes')
  t.equal(h.overflows(), 1)
  t.notOk(h.outbox.send(frame(3)), 'nothing after the overflow')
  t.equal(h.overflows(), 1, 'reported once')
  t.same(h.transport.frames.map(f => f.n), [1])
})

t.test('sendMany: all or nothing against the bound, then one flush', async t => {
  const h = harness()
  h.transport.grow = true
  t.ok(h.outbox.sendMany([frame(1), frame(2)]))
  t.equal(h.flushes(), 1)
  t.notOk(h.outbox.sendMany([frame(3, 30), frame(4, 30)]))
  t.same(h.transport.frames.map(f => f.n), [1, 2], 'none of the batch that would pass the bound')
  t.equal(h.overflows(), 1)
})

t.test('ephemeral: own bound, dropped while congested, counted per key, never an overflow', async t => {
  const h = harness()
  t.ok(h.outbox.ephemeral('console:a', frame(1)))
  h.transport.buffered = 30
  t.notOk(h.outbox.ephemeral('console:a', frame(2)), 'over the ephemeral bound (40), far below the direct one')
  t.notOk(h.outbox.ephemeral('stats:a', frame(3)))
  t.ok(h.outbox.send(frame(4)), 'direct frames still go')
  h.transport.buffered = 0
  h.outbox.congest(true)
  t.notOk(h.outbox.ephemeral('console:a', frame(5)), 'dropped while events are behind')
  h.outbox.congest(false)
  t.ok(h.outbox.ephemeral('console:a', frame(6)))
  t.same(h.outbox.takeDropped(), new Map([['console:a', 2], ['stats:a', 1]]))
  t.same(h.outbox.takeDropped(), new Map())
  t.equal(h.overflows(), 0)
  h.outbox.stop()
  t.notOk(h.outbox.ephemeral('console:a', frame(7)), 'nothing after stop')
  t.same(h.transport.frames.map(f => f.n), [1, 4, 6])
})
