// Failed-login counting per username and per client IP, in fixed windows. An attempt is reserved
// BEFORE the password is checked (`reserve`), so parallel attempts cannot all pass the check while
// the first ones are still hashing; a success or a refusal for load gives its reservation back.
// Memory is bounded: at most `maxKeys` keys, the oldest evicted first. Per hub instance: a farm of
// N hubs allows N times the attempts, which still defeats online guessing at bcrypt cost.
export interface LoginLimiter {
  /**
   * Counts one attempt against every key, unless one of them has used up its attempts in the
   * current window: then nothing is counted and the answer is the ms until that window ends.
   */
  reserve (keys: string[]): { ok: true } | { ok: false, retryAfterMs: number }
  /** Gives a reservation back (the attempt was not the client's failure: refused for load, or it succeeded). */
  release (keys: string[]): void
  /** A successful login clears the username's count (not the IP's beyond its own reservation). */
  clear (key: string): void
}

export interface LoginLimiterOptions {
  max: number
  windowMs: number
  now?: () => number
  maxKeys?: number
}

export function createLoginLimiter ({ max, windowMs, now = Date.now, maxKeys = 100_000 }: LoginLimiterOptions): LoginLimiter {
  const windows = new Map<string, { count: number, resetAt: number }>()
  const live = (key: string) => {
    const w = windows.get(key)
    if (w !== undefined && w.resetAt <= now()) {
      windows.delete(key)
      return undefined
    }
    return w
  }
  return {
    reserve (keys) {
      const full = keys.map(live).filter(w => w !== undefined && w.count >= max) as Array<{ resetAt: number }>
      if (full.length > 0) return { ok: false, retryAfterMs: Math.max(...full.map(w => w.resetAt - now())) }
      for (const key of keys) {
        const w = live(key)
        if (w !== undefined) {
          w.count++
          continue
        }
        if (windows.size >= maxKeys) windows.delete(windows.keys().next().value as string)
        windows.set(key, { count: 1, resetAt: now() + windowMs })
      }
      return { ok: true }
    },
    release (keys) {
      for (const key of keys) {
        const w = live(key)
        if (w !== undefined && --w.count <= 0) windows.delete(key)
      }
    },
    clear: key => { windows.delete(key) }
  }
}
