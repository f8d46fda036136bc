/**
 * Reconnect delays: exponential backoff with full jitter.
 *
 * Why full jitter: a hub restart drops every agent at the same instant. With plain exponential
 * backoff they all come back at the same instants too, in synchronized waves that hit the hub
 * hardest exactly when it is weakest. Drawing each delay uniformly from [0, ceiling) spreads them
 * out; of the usual jitter variants it does the least total work for the same spread
 * ("Exponential Backoff And Jitter", AWS Architecture Blog, 2015).
 */

export interface BackoffOptions {
  /** Ceiling of the first delay, in ms; each later attempt doubles it. */
  baseMs: number
  /** Largest ceiling, in ms. */
  maxMs: number
}

// 2 ** 52 times any sane baseMs is far beyond any sane maxMs.
const MAX_EXPONENT = 52

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 500, maxMs: 30_000 }

/**
 * The delay before reconnect attempt `attempt` (0 for the first retry after a drop): uniform in
 * [0, min(maxMs, baseMs * 2 ** attempt)). `random` returns a number in [0, 1), as Math.random does;
 * tests inject their own.
 */
export function backoffDelay (attempt: number, { baseMs, maxMs }: BackoffOptions, random: () => number = Math.random): number {
  // The exponent is capped because 2 ** 1024 is Infinity, and 0 * Infinity (baseMs 0) is NaN.
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, MAX_EXPONENT))
  return random() * ceiling
}
