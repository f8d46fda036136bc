// An injected clock and timers for unit tests of the realtime cores: nothing fires until the
// test advances time, and then every due timer fires in order, at its own time.
export interface FakeClock {
  now (): number
  setTimer (fn: () => void, ms: number): { cancel (): void }
  /** Moves time forward by `ms`, firing every timer that falls due on the way. */
  advance (ms: number): void
  /** Timers not yet fired nor cancelled. */
  readonly timers: Set<{ at: number, fn: () => void }>
}

export function createFakeClock (start = 0): FakeClock {
  let now = start
  const timers = new Set<{ at: number, fn: () => void }>()
  return {
    now: () => now,
    setTimer (fn, ms) {
      const timer = { at: now + ms, fn }
      timers.add(timer)
      return { cancel: () => timers.delete(timer) }
    },
    advance (ms) {
      const until = now + ms
      for (;;) {
        const due = [...timers].filter(x => x.at <= until).sort((a, b) => a.at - b.at)[0]
        if (due === undefined) break
        timers.delete(due)
        now = due.at
        due.fn()
      }
      now = until
    },
    timers
  }
}
