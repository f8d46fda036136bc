// HUB_BACKUP_RETENTION: parsing, and which base backups selectExpired lets go.
import t from 'tap'
import { parseRetention, selectExpired, describeRetention } from '../../src/db/backup/retention.ts'
import { loadConfig } from '../../src/hub/config.ts'

t.test('parseRetention reads d, w and m buckets and refuses anything else', async t => {
  t.same(parseRetention('7d,4w'), { d: 7, w: 4 })
  t.same(parseRetention(' 1d , 12m '), { d: 1, m: 12 })
  t.equal(describeRetention(parseRetention('7d,4w,6m')), '7 daily, 4 weekly, 6 monthly')
  for (const bad of ['', ',', '7', 'd', '7x', '0d', '1001d', '7d,3d', '-1d', '7days']) t.throws(() => parseRetention(bad), `"${bad}" is refused`)
})

t.test('the config refuses a bad HUB_BACKUP_RETENTION at load, naming it', async t => {
  t.equal(loadConfig({}).backupRetention, '7d,4w')
  t.equal(loadConfig({}).backupSchedule, '0 3 * * *')
  t.throws(() => loadConfig({ HUB_BACKUP_RETENTION: '7 days' }), { name: 'ConfigError', message: /HUB_BACKUP_RETENTION: .*"7 days"/ })
  t.throws(() => loadConfig({ HUB_BACKUP_SCHEDULE: 'daily' }), /HUB_BACKUP_SCHEDULE/)
})

const at = (iso: string, id = iso) => ({ id, finishedAt: new Date(iso).toISOString() })

t.test('daily: the newest backup of each of the last N UTC days', async t => {
  const now = new Date('2026-12-10T12:00:00Z')
  const backups = [
    at('2026-12-10T03:00:00Z'), at('2026-12-10T01:00:00Z'), // today: only the newest stays
    at('2026-12-09T03:00:00Z'), at('2026-12-08T23:59:59Z'), at('2026-12-08T03:00:00Z'),
    at('2026-12-07T03:00:00Z') // day 3: outside 3d
  ]
  const expired = selectExpired(backups, { d: 3 }, now).map(b => b.id).toSorted()
  t.same(expired, ['2026-12-07T03:00:00Z', '2026-12-08T03:00:00Z', '2026-12-10T01:00:00Z'])
})

t.test('weekly buckets are ISO weeks (Monday, UTC), and daily + weekly keep the union', async t => {
  const now = new Date('2026-12-10T12:00:00Z') // a Thursday
  const days = Array.from({ length: 35 }, (_, i) => at(new Date(Date.UTC(2026, 11, 10 - i, 3)).toISOString()))
  const expired = new Set(selectExpired(days, { d: 7, w: 4 }, now).map(b => b.id))
  const kept = days.filter(b => !expired.has(b.id)).map(b => b.id.slice(0, 10))
  // 7 daily (Dec 4..10) + the newest of the weeks starting Dec 7 (Dec 10), Nov 30 (Dec 6), Nov 23 (Nov 29) and Nov 16 (Nov 22).
  t.same(kept, ['2026-12-10', '2026-12-09', '2026-12-08', '2026-12-07', '2026-12-06', '2026-12-05', '2026-12-04', '2026-11-29', '2026-11-22'])
})

t.test('monthly buckets, the newest is always kept, nothing kept twice, empty input', async t => {
  const now = new Date('2026-12-10T12:00:00Z')
  t.same(selectExpired([at('2026-01-01T00:00:00Z', 'old')], { d: 1 }, now), [], 'the newest backup stays even when every bucket has passed')
  const expired = selectExpired([at('2026-12-01T00:00:00Z', 'dec'), at('2026-11-30T00:00:00Z', 'nov30'), at('2026-11-02T00:00:00Z', 'nov2'), at('2026-09-15T00:00:00Z', 'sep')], { m: 2 }, now)
  t.same(expired.map(b => b.id), ['nov2', 'sep'])
  t.same(selectExpired([], { d: 7 }, now), [])
  t.same(selectExpired([at('2026-12-11T00:00:00Z', 'skew'), at('2026-12-10T01:00:00Z', 'today')], { d: 1 }, now).map(b => b.id), ['today'], 'a backup from the future (clock skew) counts as today')
})
