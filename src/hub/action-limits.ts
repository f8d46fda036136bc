// Rate limits on POST /api/servers/:id/actions (issue 10 item 5): token buckets keyed by user and
// by server, per hub. Each budget says which actions it applies to and how it keys them, so a
// separate budget (say, COMMAND's) is one more line in `budgetsOf`. A request passes only if every
// budget that applies to it has a token; only then is one taken from each, so refusals cost nothing.
// Memory is bounded: at most `maxKeys` buckets per budget, the oldest dropped first (a dropped
// bucket comes back full, which only errs on the generous side).
import type { Config } from './config.ts'

export interface ActionRequest { userId: string, serverId: string, action: string }

export interface Budget {
  name: string
  applies: (a: ActionRequest) => boolean
  key: (a: ActionRequest) => string
  rate: number
  burst: number
}

export const budgetsOf = (config: Config): Budget[] => [
  { name: 'user', applies: a => a.action !== 'COMMAND', key: a => a.userId, rate: config.actionUserRate, burst: config.actionUserBurst },
  { name: 'server', applies: a => a.action !== 'COMMAND', key: a => a.serverId, rate: config.actionServerRate, burst: config.actionServerBurst }
]

export interface ActionLimits {
  /** 0 when the action may go (a token was taken from each budget), else the ms until it may. */
  take (a: ActionRequest): number
}

interface Bucket { tokens: number, at: number }

export function createActionLimits (budgets: Budget[], now: () => number, maxKeys = 100_000): ActionLimits {
  const buckets = budgets.map(() => new Map<string, Bucket>())
  /** The bucket refilled to `now` (created full if new). */
  const current = (map: Map<string, Bucket>, budget: Budget, key: string, t: number): Bucket => {
    let b = map.get(key)
    if (b === undefined) {
      if (map.size >= maxKeys) map.delete(map.keys().next().value as string)
      b = { tokens: budget.burst, at: t }
      map.set(key, b)
    } else {
      b.tokens = Math.min(budget.burst, b.tokens + (t - b.at) * budget.rate / 1000)
      b.at = t
    }
    return b
  }
  return {
    take (a) {
      const t = now()
      const hit = budgets.flatMap((budget, i) => budget.applies(a) ? [{ budget, bucket: current(buckets[i] as Map<string, Bucket>, budget, budget.key(a), t) }] : [])
      const wait = Math.max(0, ...hit.map(({ budget, bucket }) => bucket.tokens >= 1 ? 0 : Math.ceil((1 - bucket.tokens) * 1000 / budget.rate)))
      if (wait > 0) return wait
      for (const { bucket } of hit) bucket.tokens -= 1
      return 0
    }
  }
}
