// HUB_BACKUP_RETENTION: which base backups to keep, as grandfather-father-son buckets.
// "7d,4w" keeps the newest backup of each of the last 7 UTC days and of each of the last 4 ISO
// weeks (Monday to Sunday, UTC); "12m" would add the last 12 calendar months. A backup is kept when
// any bucket keeps it, and the newest backup is always kept whatever the policy says. Pure, so the
// plugin and the tests share it.

export const RETENTION_UNITS = ['d', 'w', 'm'] as const
export type RetentionUnit = (typeof RETENTION_UNITS)[number]
export type RetentionPolicy = Readonly<Partial<Record<RetentionUnit, number>>>

const UNIT_NAMES: Record<RetentionUnit, string> = { d: 'daily', w: 'weekly', m: 'monthly' }

/** Parses "7d,4w" (each unit at most once, counts 1..1000); throws an Error saying what is wrong. */
export function parseRetention (text: string): RetentionPolicy {
  const policy: Partial<Record<RetentionUnit, number>> = {}
  const parts = text.split(',').map(s => s.trim()).filter(s => s !== '')
  if (parts.length === 0) throw new Error('must name at least one bucket, e.g. "7d,4w"')
  for (const part of parts) {
    const match = /^(\d{1,4})([dwm])$/.exec(part)
    if (match === null) throw new Error(`"${part}" is not <count><unit> with unit d (days), w (weeks) or m (months), e.g. "7d,4w"`)
    const count = Number(match[1])
    const unit = match[2] as RetentionUnit
    if (count < 1 || count > 1_000) throw new Error(`"${part}": the count must be 1..1000`)
    if (policy[unit] !== undefined) throw new Error(`"${part}": ${UNIT_NAMES[unit]} given twice`)
    policy[unit] = count
  }
  return policy
}

export function describeRetention (policy: RetentionPolicy): string {
  return RETENTION_UNITS.filter(u => policy[u] !== undefined).map(u => `${policy[u]} ${UNIT_NAMES[u]}`).join(', ')
}

const DAY_MS = 86_400_000

/** The bucket index of `at` counted back from `now` (0 = the current day/week/month). */
function bucketsAgo (unit: RetentionUnit, at: Date, now: Date): number {
  if (unit === 'm') {
    return (now.getUTCFullYear() - at.getUTCFullYear()) * 12 + now.getUTCMonth() - at.getUTCMonth()
  }
  const day = (d: Date) => Math.floor(d.getTime() / DAY_MS)
  if (unit === 'd') return day(now) - day(at)
  // ISO weeks start on Monday; 1970-01-01 (day 0) was a Thursday, so Monday-based weeks start at day -3.
  const week = (d: Date) => Math.floor((day(d) + 3) / 7)
  return week(now) - week(at)
}

/**
 * The backups the policy no longer keeps. `manifests` in any order; each needs `id` and
 * `finishedAt` (ISO). A backup finished after `now` (clock skew) counts as current.
 */
export function selectExpired<M extends { id: string, finishedAt: string }> (manifests: readonly M[], policy: RetentionPolicy, now: Date): M[] {
  const sorted = manifests.toSorted((a, b) => Date.parse(b.finishedAt) - Date.parse(a.finishedAt))
  const keep = new Set<string>()
  if (sorted[0] !== undefined) keep.add(sorted[0].id)
  for (const unit of RETENTION_UNITS) {
    const count = policy[unit]
    if (count === undefined) continue
    const seen = new Set<number>()
    for (const m of sorted) {
      const ago = Math.max(0, bucketsAgo(unit, new Date(m.finishedAt), now))
      if (ago >= count || seen.has(ago)) continue
      seen.add(ago) // newest first: the first one met in a bucket is its newest
      keep.add(m.id)
    }
  }
  return sorted.filter(m => !keep.has(m.id))
}
