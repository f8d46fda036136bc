/**
 * What one panel saw, and whether it is complete: pure bookkeeping, fed by the panel driver and
 * checked at the end against the transitions the agents had acked. No sockets, no timers.
 *
 * Three checks per watched server, all from the `server.status` events alone:
 * - order: event ids strictly increase on a connection (the panel client counts that), and a
 *   server's `seq` strictly increases across the panel's events (null seqs, the hub's own
 *   `UNKNOWN` moves, are exempt);
 * - continuity: each event's `from` is the previous event's `to` (or the snapshot's status), so
 *   a dropped event shows even when the agent's seqs have holes (a refused status uses a seq);
 * - completeness: every seq an agent had acked (a real `status.ack`, which the hub sends only after
 *   commit, and the event commits with the transition) was seen by every panel watching it.
 * A `resync` announces dropped events: after one, continuity restarts from the next event and
 * missing seqs are excused (counted, not violations); order must still hold.
 */
import type { Violation } from './correctness.ts'
import type { AckedByServer } from './worker-protocol.ts'

interface ServerView {
  lastSeq: number
  lastTo: string | undefined
  seen: Set<number>
}

export interface LedgerCheck {
  /** Acked seqs this panel should have seen. */
  expected: number
  missing: number
  /** Missing, but the panel had been told by a `resync` that events were dropped. */
  excusedByResync: number
  outOfOrder: number
  gaps: number
  violations: Violation[]
}

export function createPanelLedger (panel: number, watched: readonly string[]) {
  const views = new Map<string, ServerView>()
  for (const id of watched) views.set(id, { lastSeq: 0, lastTo: undefined, seen: new Set() })
  let resyncs = 0
  let outOfOrder = 0
  let gaps = 0
  let foreign = 0
  const violations: Violation[] = []
  const MAX_LISTED = 20
  const note = (kind: string, message: string) => {
    if (violations.length < MAX_LISTED) violations.push({ kind, message: `panel ${panel}: ${message}` })
  }

  return {
    /** The status a snapshot (`subscribed`) reports: where continuity starts from. */
    snapshot (serverId: string, status: string): void {
      const v = views.get(serverId)
      if (v !== undefined) v.lastTo = status
    },
    /** A `server.status` event's data. */
    status (data: { serverId: string, from: string | null, to: string, seq: number | null }): void {
      const v = views.get(data.serverId)
      if (v === undefined) {
        foreign++
        note('panel-foreign-event', `event for server ${data.serverId}, which it does not watch`)
        return
      }
      if (data.seq !== null) {
        if (data.seq <= v.lastSeq) {
          outOfOrder++
          note('panel-out-of-order', `server ${data.serverId}: seq ${data.seq} after seq ${v.lastSeq}`)
        }
        v.lastSeq = Math.max(v.lastSeq, data.seq)
        v.seen.add(data.seq)
      }
      if (v.lastTo !== undefined && data.from !== v.lastTo) {
        gaps++
        note('panel-gap', `server ${data.serverId}: event ${data.from} -> ${data.to} (seq ${data.seq}) follows ${v.lastTo}: an event is missing`)
      }
      v.lastTo = data.to
    },
    /** Event ids that did not increase on a connection (from the panel client's own count). */
    idOrder (count: number): void {
      if (count > outOfOrder) note('panel-out-of-order', `${count} event ids did not increase on their connection`)
      outOfOrder = Math.max(outOfOrder, count)
    },
    resync (): void {
      resyncs++
      for (const v of views.values()) v.lastTo = undefined
    },
    get resyncs () { return resyncs },
    get watched () { return views.size },
    /** Compares what was seen with what the agents had acked. */
    check (acked: AckedByServer): LedgerCheck {
      let expected = 0
      let missing = 0
      let excused = 0
      const listed = [...violations]
      for (const [serverId, v] of views) {
        const a = acked[serverId]
        if (a === undefined) continue
        for (const seq of a.seqs) {
          expected++
          if (v.seen.has(seq)) continue
          if (resyncs > 0) { excused++; continue }
          missing++
          if (listed.length < MAX_LISTED) listed.push({ kind: 'panel-missing-event', message: `panel ${panel}: server ${serverId}: acked seq ${seq} never arrived` })
        }
      }
      const count = missing + outOfOrder + gaps + foreign
      return { expected, missing, excusedByResync: excused, outOfOrder, gaps, violations: count === 0 ? [] : listed }
    },
    /** Acked seqs not seen yet (for the end-of-run wait). */
    behind (acked: AckedByServer): number {
      let n = 0
      for (const [serverId, v] of views) for (const seq of acked[serverId]?.seqs ?? []) if (!v.seen.has(seq)) n++
      return n
    }
  }
}
export type PanelLedger = ReturnType<typeof createPanelLedger>

/**
 * Which servers each panel watches: panel i takes a window of `perPanel` servers starting at
 * i × total / panels, wrapping around, so every server has at least one watcher when
 * panels × perPanel ≥ total and the windows overlap evenly when larger.
 */
export function panelSlices (serverIds: readonly string[], panels: number, perPanel: number): string[][] {
  const total = serverIds.length
  const size = Math.min(total, perPanel)
  return Array.from({ length: panels }, (_, i) => {
    const start = Math.floor(i * total / panels)
    return Array.from({ length: size }, (_, k) => serverIds[(start + k) % total] as string)
  })
}

/** Default window: an even share, but at least 100 servers (all of them when fewer). */
export function defaultPerPanel (totalServers: number, panels: number): number {
  return Math.min(totalServers, Math.max(Math.ceil(totalServers / Math.max(1, panels)), 100))
}
