// Failed-login counting per username and per client IP, in fixed windows. Memory is
// bounded: at most `maxKeys` keys, the oldest evicted first. Per hub instance: a farm of N
// hubs allows N times the attempts, which still defeats online guessing at bcrypt cost.
export interface LoginLimiter {
  /** True when any of the keys has used up its failures in the current window. */
  blocked (keys: string[]): boolean
  fail (keys: string[]): void
  /** A successful login clears the username's count (not the IP's). */
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
    blocked: keys => keys.some(k => (live(k)?.count ?? 0) >= max),
    fail (keys) {
      for (const key of keys) {
        const w = live(key)
        if (w !== undefined) {
          w.count++
          continue
        }
        if (windows.size >= maxKeys) windows.delete(windows.keys().next().value as string)
        windows.set(key, { count: 1, resetAt: now() + windowMs })
      }
    },
    clear: key => { windows.delete(key) }
  }
}
