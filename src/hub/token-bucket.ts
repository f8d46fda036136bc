// A token bucket: `rate` tokens per second, holding at most `burst`. Used for per-connection
// frame rate limits; O(1) memory, no timers.
export interface TokenBucket { take (): boolean }

export function createTokenBucket (rate: number, burst: number, now: () => number): TokenBucket {
  let tokens = burst
  let last = now()
  return {
    take () {
      const t = now()
      tokens = Math.min(burst, tokens + (t - last) * rate / 1000)
      last = t
      if (tokens < 1) return false
      tokens -= 1
      return true
    }
  }
}
