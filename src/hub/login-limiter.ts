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

/**
 * The login limiter's key for a client address. An IPv6 client usually holds a whole /64 (SLAAC,
 * privacy addresses), so one per address would give an attacker 2^64 budgets: IPv6 is keyed by
 * its /64. IPv4, and IPv4 mapped into IPv6, by the address.
 */
export function addressKey (ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip)
  if (mapped !== null) return `ip:${mapped[1]}`
  if (!ip.includes(':')) return `ip:${ip}`
  const [head = '', tail = ''] = ip.toLowerCase().split('%')[0]!.split('::')
  const left = head === '' ? [] : head.split(':')
  const right = ip.includes('::') ? (tail === '' ? [] : tail.split(':')) : []
  const groups = ip.includes('::') ? [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right] : left
  return `ip6:${groups.slice(0, 4).map(g => g.replace(/^0+(?=.)/, '')).join(':')}::/64`
}
