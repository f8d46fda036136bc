// The console hub's core with fake panels and an injected clock: the ring's bounds, replay runs,
// slow readers (dropped lines counted and reported on the next frame that gets through, nothing
// queued for them) and stats coalescing to one frame per server per tick.
import t from 'tap'
import { createConsoleHub, type StreamTarget } from '../../../src/hub/console/console-hub.ts'
import { createFakeClock } from '../../helpers/fake-clock.ts'

const S = '00000000-0000-4000-8000-000000000001'

function target () {
  const frames: any[] = []
  let room = true
  const t: StreamTarget & { frames: any[], setRoom (r: boolean): void } = {
    closed: false,
    frames,
    setRoom (r) { room = r },
    sendEphemeral (_key, frame) {
      if (!room) return false
      frames.push(JSON.parse(String(frame)))
      return true
    }
  }
  return t
}
const msg = (lines: string[], replay?: true) => ({ type: 'console' as const, serverId: S, lines, ...(replay ? { replay } : {}) })

t.test('the ring keeps the last 200 lines and at most its byte bound', async t => {
  const clock = createFakeClock()
  const hub = createConsoleHub({ setTimer: clock.setTimer, ringBytes: 1_000 })
  t.teardown(() => hub.stop())
  for (let i = 0; i < 300; i++) hub.console(msg([`l${i}`]), false)
  t.equal(hub.lines(S).length, 200)
  t.equal(hub.lines(S)[0], 'l100')
  hub.console(msg(['x'.repeat(900)]), false)
  t.ok(hub.lines(S).join('').length <= 1_000 && hub.lines(S).at(-1) === 'x'.repeat(900), 'bytes bound the ring too')
  hub.console(msg(['r1'], true), true)
  hub.console(msg(['r2'], true), false)
  t.same(hub.lines(S), ['r1', 'r2'], 'a replay run replaces the ring')
})

t.test('slow readers: lines dropped, counted, reported on the next frame; never queued', async t => {
  const clock = createFakeClock()
  const hub = createConsoleHub({ setTimer: clock.setTimer })
  t.teardown(() => hub.stop())
  const fast = target()
  const slow = target()
  hub.subscribe(fast, [S], { console: true })
  hub.subscribe(slow, [S], { console: true })
  slow.setRoom(false)
  hub.console(msg(['a', 'b']), false)
  hub.console(msg(['c']), false)
  slow.setRoom(true)
  hub.console(msg(['d']), false)
  t.same(fast.frames.map(f => f.lines), [['a', 'b'], ['c'], ['d']], 'a reading panel gets every line')
  t.same(slow.frames, [{ type: 'console', serverId: S, lines: ['d'], dropped: 3 }], 'the slow one is told how many it lost')
  hub.console(msg(['e']), false)
  t.notOk('dropped' in slow.frames[1], 'the count restarts')
  hub.detach(slow)
  hub.console(msg(['f']), false)
  t.equal(slow.frames.length, 2, 'nothing after detach')
})

t.test('stats: latest on subscribe, then at most one per server per second', async t => {
  const clock = createFakeClock()
  const hub = createConsoleHub({ setTimer: clock.setTimer, now: clock.now, statsEveryMs: 1_000 })
  t.teardown(() => hub.stop())
  const stat = (cpu: number) => ({ type: 'stats' as const, serverId: S, at: new Date(0).toISOString(), cpuPercent: cpu, memoryBytes: 1, uptimeMs: 1 })
  hub.stats(stat(1))
  const p = target()
  hub.subscribe(p, [S], { stats: true })
  t.same(p.frames.map(f => f.cpuPercent), [1])
  for (let i = 2; i <= 20; i++) hub.stats(stat(i))
  clock.advance(1_000)
  t.same(p.frames.map(f => f.cpuPercent), [1, 20], 'twenty reports, one frame: the latest')
  clock.advance(3_000)
  t.equal(p.frames.length, 2, 'nothing new, nothing sent')
  hub.stats(stat(21))
  t.same(p.frames.map(f => f.cpuPercent), [1, 20, 21], 'a report a second or more after the last goes out at once')
  t.equal(clock.timers.size, 0, 'no timer while nothing waits')
})

t.test('stats go out spread as the agents report them, not all in one tick', async t => {
  const clock = createFakeClock()
  const hub = createConsoleHub({ setTimer: clock.setTimer, now: clock.now, statsEveryMs: 1_000 })
  t.teardown(() => hub.stop())
  const p = target()
  const ids = Array.from({ length: 10 }, (_, i) => `00000000-0000-4000-8000-0000000001${String(i).padStart(2, '0')}`)
  hub.subscribe(p, ids, { stats: true })
  const sentAt: number[] = []
  const send = p.sendEphemeral.bind(p)
  p.sendEphemeral = (key, frame) => { sentAt.push(clock.now()); return send(key, frame) }
  // Each server reports every second, the servers 100 ms apart: three seconds of reports.
  for (let ms = 0; ms < 3_000; ms += 100) {
    const id = ids[(ms / 100) % 10] as string
    hub.stats({ type: 'stats', serverId: id, at: new Date(ms).toISOString(), cpuPercent: ms, memoryBytes: 1, uptimeMs: ms })
    clock.advance(100)
  }
  t.equal(p.frames.length, 30, 'every report went out: each came a second after the previous of its server')
  t.same(sentAt, Array.from({ length: 30 }, (_, i) => i * 100), 'each at the time it came, none held for a common tick')
})

t.test('forget: a deleted server\'s ring, stats and watchers go; counts show it', async t => {
  const clock = createFakeClock()
  const hub = createConsoleHub({ setTimer: clock.setTimer })
  t.teardown(() => hub.stop())
  const S2 = '00000000-0000-4000-8000-000000000002'
  hub.console(msg(['a']), false)
  hub.console({ ...msg(['b']), serverId: S2 }, false)
  hub.stats({ type: 'stats', serverId: S, at: new Date(0).toISOString(), cpuPercent: 1, memoryBytes: 1, uptimeMs: 1 })
  const p = target()
  p.setRoom(false)
  hub.subscribe(p, [S, S2], { console: true, stats: true })
  hub.console(msg(['c']), false)
  t.match(hub.counts(), { rings: 2, stats: 1, watched: 2, panels: 1, droppedLines: 3 }, 'the replays and the live line were dropped for the full panel')
  hub.forget(S)
  t.match(hub.counts(), { rings: 1, stats: 0, watched: 1, panels: 1 })
  t.same(hub.watchedConsoles(p), [S2])
  t.same(hub.known(), [S2])
  hub.forget(S2)
  t.match(hub.counts(), { rings: 0, stats: 0, watched: 0, panels: 0 }, 'a panel left watching nothing is not held')
  p.setRoom(true)
  hub.console(msg(['d']), false)
  t.equal(p.frames.length, 0, 'no frame for a forgotten subscription')
})
