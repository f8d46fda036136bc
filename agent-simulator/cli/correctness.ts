/**
 * The end-of-run correctness check: the hub acks a status only after commit (PROTOCOL.md,
 * `status.ack`), so every transition acked by a real `status.ack` must be a stored row with the
 * same server, seq and target status. Acks the agent client synthesized from `welcome.lastSeq`
 * are not in the list (the hub may have folded them into the hello snapshot), nor are statuses
 * whose ack never came.
 *
 * The stored rows come from a TransitionSource: PostgreSQL directly when the simulator has it,
 * otherwise `GET /api/servers/:id/transitions` page by page. The comparison itself is pure.
 */
import type pg from 'pg'
import { mapLimit, type ApiClient } from './api-client.ts'
import type { AckedByServer } from './worker-protocol.ts'

export interface Violation {
  /** missing-transition, wrong-status; the panel and action drivers add their own kinds. */
  kind: string
  message: string
}

/** seq -> target status of the stored transitions, per server. */
export type StoredByServer = Map<string, Map<number, string>>

export interface TransitionSource {
  readonly name: string
  /** The stored transitions of these servers with a seq of at least `minSeq[serverId]`. */
  load (minSeq: Map<string, number>): Promise<StoredByServer>
}

export interface TransitionCheck {
  source: string
  checked: number
  missing: number
  wrongStatus: number
  /** At most `maxListed`; the counts above are complete. */
  violations: Violation[]
}

export function compareAcked (acked: AckedByServer, stored: StoredByServer, maxListed = 50): Omit<TransitionCheck, 'source'> {
  let checked = 0
  let missing = 0
  let wrongStatus = 0
  const violations: Violation[] = []
  for (const [serverId, { seqs, statuses }] of Object.entries(acked)) {
    const rows = stored.get(serverId)
    for (let i = 0; i < seqs.length; i++) {
      checked++
      const seq = seqs[i] as number
      const to = rows?.get(seq)
      if (to === undefined) {
        missing++
        if (violations.length < maxListed) violations.push({ kind: 'missing-transition', message: `server ${serverId}: seq ${seq} (${statuses[i]}) was acked but is not stored` })
      } else if (to !== statuses[i]) {
        wrongStatus++
        if (violations.length < maxListed) violations.push({ kind: 'wrong-status', message: `server ${serverId}: seq ${seq} was acked as ${statuses[i]} but is stored as ${to}` })
      }
    }
  }
  return { checked, missing, wrongStatus, violations }
}

export async function checkAckedTransitions (acked: AckedByServer, source: TransitionSource, maxListed = 50): Promise<TransitionCheck> {
  const minSeq = new Map<string, number>()
  for (const [serverId, { seqs }] of Object.entries(acked)) {
    if (seqs.length > 0) minSeq.set(serverId, Math.min(...seqs))
  }
  const stored = await source.load(minSeq)
  return { source: source.name, ...compareAcked(acked, stored, maxListed) }
}

/** Direct SQL, 500 servers per query: fast enough to check millions of rows at the end of a run. */
export function sqlTransitionSource (pool: pg.Pool): TransitionSource {
  return {
    name: 'postgresql',
    async load (minSeq) {
      const stored: StoredByServer = new Map()
      const ids = [...minSeq.keys()]
      for (let i = 0; i < ids.length; i += 500) {
        const chunk = ids.slice(i, i + 500)
        const { rows } = await pool.query<{ server_id: string, seq: string, to_status: string }>(
          `SELECT t.server_id, t.seq::text AS seq, t.to_status::text AS to_status
             FROM server_status_transitions t JOIN unnest($1::uuid[], $2::bigint[]) AS m(id, min_seq) ON t.server_id = m.id
            WHERE t.seq >= m.min_seq`,
          [chunk, chunk.map((id) => minSeq.get(id))])
        for (const row of rows) {
          let map = stored.get(row.server_id)
          if (map === undefined) stored.set(row.server_id, map = new Map())
          map.set(Number(row.seq), row.to_status)
        }
      }
      return stored
    }
  }
}

interface TransitionRow { id: string, seq: number | string | null, to: string }

/** `GET /api/servers/:id/transitions`, newest first, paging back with `before` until below minSeq. */
export function apiTransitionSource (api: ApiClient, concurrency = 8): TransitionSource {
  return {
    name: 'api',
    async load (minSeq) {
      const stored: StoredByServer = new Map()
      await mapLimit([...minSeq.entries()], concurrency, async ([serverId, min]) => {
        const map = new Map<number, string>()
        stored.set(serverId, map)
        let before: string | undefined
        for (;;) {
          const query = `limit=500${before === undefined ? '' : `&before=${encodeURIComponent(before)}`}`
          const page = await api.request<{ items: TransitionRow[], next: string | null }>('GET', `/api/servers/${serverId}/transitions?${query}`)
          let oldest = Infinity
          for (const row of page.items) {
            if (row.seq === null) continue // the hub's own transitions (node lost) carry no seq
            const seq = Number(row.seq)
            map.set(seq, row.to)
            oldest = Math.min(oldest, seq)
          }
          // `next` is the cursor for `before`; null once the oldest page was served.
          if (page.items.length === 0 || oldest <= min || page.next === null) break
          before = page.next
        }
      })
      return stored
    }
  }
}
