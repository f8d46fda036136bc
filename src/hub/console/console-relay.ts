// Console and stats across hubs (docs/architecture.md "Across hubs"): a panel on hub B watching a
// server whose agent is on hub A. Carried by PostgreSQL NOTIFY, never per line and never inside a
// write transaction:
// - Interest: a hub with a local watcher NOTIFYs `hub_console_watch` {hub, on|off, console, stats,
//   replay} when the first panel starts (or the last stops) watching (changes coalesced per
//   flush, up to 100 ids per payload), and renews it every
//   `leaseMs / 3`; every hub records it with an expiry, so an agent moving to any hub finds the
//   interest already there.
// - Forwarding: only the hub that receives the agent's lines holds the agent; it queues them per
//   interested hub and flushes every `flushMs` (10 ms) as a few NOTIFYs on that hub's own channel
//   (`hub_console_<id>`), each payload under PAYLOAD_BYTES. Stats are coalesced to the latest per
//   server and flushed every `statsEveryMs`. A queue over `maxQueueBytes` drops (ephemeral data).
// - Replay: a watch with `replay` is answered by the hub holding a ring for the server, ahead of
//   any live line on the same channel; the watching hub sends it only to panels awaiting it.
// Payloads are untrusted: parsed with bounds, ids checked; anything else is ignored.
import { isCanonicalUuid } from '../../agent-protocol/ids.ts'
import type { SetTimer, Timer } from '../connection/types.ts'
import type { RelayHooks } from './console-hub.ts'

export const WATCH_CHANNEL = 'hub_console_watch'
export const channelOf = (hubId: string): string => `hub_console_${hubId.replaceAll('-', '')}`
/** Under PostgreSQL's 8,000-byte NOTIFY payload limit, with room for the envelope. */
export const PAYLOAD_BYTES = 7_600
const MAX_IDS_PER_WATCH = 100

export interface RelayTarget {
  lines (serverId: string): string[]
  latestStats (serverId: string): string | undefined
  remoteConsole (serverId: string, lines: readonly string[], replay: boolean): void
  remoteStats (serverId: string, frame: string): void
}

export interface ConsoleRelayOptions {
  hubId: string
  /** Whether an agent connected here holds the server: only that hub answers a replay request (a hub that held it before keeps a stale ring). */
  holds: (serverId: string) => boolean
  notify: (channel: string, payload: string) => Promise<void>
  setTimer: SetTimer
  now?: () => number
  flushMs?: number
  statsEveryMs?: number
  leaseMs?: number
  maxQueueBytes?: number
  log: { warn (obj: object, msg: string): void }
}

export interface ConsoleRelay extends RelayHooks {
  attach (target: RelayTarget): void
  onWatch (payload: string | undefined): boolean
  onForward (payload: string | undefined): boolean
  /** After a listener redial: announce every local interest again. */
  renew (): void
  /** The server was deleted: other hubs' interest in it and its queued stats go. */
  forget (serverId: string): void
  /** Servers some other hub has a lease on (tests: memory is released). */
  readonly remoteServers: number
  /** The hubs with a live console lease on the server (tests, metrics). */
  interestedHubs (serverId: string): string[]
  stop (): void
  readonly dropped: number
}

type Kind = 'console' | 'stats'
/** `lines[i]`: how many console lines `items[i]` carries (counted as dropped if its NOTIFY fails). */
interface Queue { items: string[], lines: number[], bytes: number, stats: Map<string, string> }

const isId = isCanonicalUuid
const ids = (v: unknown): string[] => Array.isArray(v) ? v.slice(0, MAX_IDS_PER_WATCH).filter(isId) : []

export function createConsoleRelay (options: ConsoleRelayOptions): ConsoleRelay {
  const { hubId, holds, notify, setTimer, now = Date.now, flushMs = 10, statsEveryMs = 1_000, leaseMs = 30_000, maxQueueBytes = 256 * 1024, log } = options
  let target: RelayTarget | undefined
  const local = { console: new Set<string>(), stats: new Set<string>() }
  /** serverId → hub → lease expiry, per kind. */
  const remote = { console: new Map<string, Map<string, number>>(), stats: new Map<string, Map<string, number>>() }
  const queues = new Map<string, Queue>()
  let dropped = 0
  /** Hubs that just started watching: their latest stats go with the next flush, not a second later. */
  const fresh = new Set<string>()
  let stopped = false

  const send = (channel: string, payload: string, lines = 0) => {
    notify(channel, payload).catch(err => {
      dropped += lines
      log.warn({ err, channel }, 'console relay NOTIFY failed; the data is dropped')
    })
  }
  // Interest changes wait for the next flush and go together, up to MAX_IDS_PER_WATCH ids per
  // payload: 500 panels subscribing at once are a few NOTIFYs, not one each (which overflowed the
  // sending lane, and a lost watch left a server unforwarded until the next renewal). Keyed by
  // kind and server: the latest change wins; a replay request is kept until it is sent.
  const pendingWatch = new Map<string, { kind: Kind, serverId: string, on: boolean, replay: boolean }>()
  const watch = (on: boolean, kind: Kind, serverIds: string[], replay: boolean) => {
    for (const serverId of serverIds) {
      const key = `${kind}:${serverId}`
      const before = pendingWatch.get(key)
      pendingWatch.set(key, { kind, serverId, on, replay: on && (replay || (before?.on === true && before.replay)) })
    }
  }
  const flushWatch = () => {
    if (pendingWatch.size === 0) return
    const groups = new Map<string, { kind: Kind, on: boolean, replay: boolean, ids: string[] }>()
    for (const w of pendingWatch.values()) {
      const key = `${w.kind}:${w.on}:${w.replay}`
      let g = groups.get(key)
      if (g === undefined) groups.set(key, g = { kind: w.kind, on: w.on, replay: w.replay, ids: [] })
      g.ids.push(w.serverId)
    }
    pendingWatch.clear()
    for (const { kind, on, replay, ids: all } of groups.values()) {
      for (let i = 0; i < all.length; i += MAX_IDS_PER_WATCH) {
        send(WATCH_CHANNEL, JSON.stringify({ hub: hubId, on, kind, ids: all.slice(i, i + MAX_IDS_PER_WATCH), ...(replay ? { replay: true } : {}) }))
      }
    }
  }
  const interested = (kind: Kind, serverId: string): string[] => {
    const hubs = remote[kind].get(serverId)
    if (hubs === undefined) return []
    const t = now()
    const out: string[] = []
    for (const [hub, until] of hubs) {
      if (until < t) hubs.delete(hub)
      else out.push(hub)
    }
    if (hubs.size === 0) remote[kind].delete(serverId)
    return out
  }
  const queueOf = (hub: string): Queue => {
    let q = queues.get(hub)
    if (q === undefined) queues.set(hub, q = { items: [], lines: [], bytes: 0, stats: new Map() })
    return q
  }
  const enqueue = (hub: string, serverId: string, lines: readonly string[], replay: boolean) => {
    const q = queueOf(hub)
    let batch: string[] = []
    let size = 0
    const push = () => {
      if (batch.length === 0) return
      const item = JSON.stringify({ s: serverId, l: batch, ...(replay ? { r: 1 } : {}) })
      if (q.bytes + item.length > maxQueueBytes) dropped += batch.length
      else { q.items.push(item); q.lines.push(batch.length); q.bytes += item.length }
      batch = []
      size = 0
    }
    for (const line of lines) {
      const n = Buffer.byteLength(JSON.stringify(line))
      if (n > PAYLOAD_BYTES - 200) { dropped++; continue }
      if (size + n > PAYLOAD_BYTES - 200) push()
      batch.push(line)
      size += n + 1
    }
    push()
  }
  const flush = (withStats: boolean) => {
    for (const [hub, q] of queues) {
      const items = q.items
      const counts = q.lines
      if (withStats) for (const frame of q.stats.values()) { items.push(JSON.stringify({ f: frame })); counts.push(0) }
      if (withStats) q.stats.clear()
      q.items = []
      q.lines = []
      q.bytes = 0
      let parts: string[] = []
      let size = 0
      let lines = 0
      items.forEach((item, i) => {
        const n = Buffer.byteLength(item)
        if (n > PAYLOAD_BYTES) { dropped += Math.max(1, counts[i] ?? 0); return }
        if (size + n + 1 > PAYLOAD_BYTES && parts.length > 0) { send(channelOf(hub), `[${parts.join(',')}]`, lines); parts = []; size = 0; lines = 0 }
        parts.push(item)
        size += n + 1
        lines += counts[i] ?? 0
      })
      if (parts.length > 0) send(channelOf(hub), `[${parts.join(',')}]`, lines)
      if (q.stats.size === 0 && q.items.length === 0) queues.delete(hub)
    }
  }

  let lastStats = now()
  let flusher: Timer = { cancel () {} }
  const tick = () => {
    if (stopped) return
    const statsDue = now() - lastStats >= statsEveryMs
    if (statsDue) lastStats = now()
    flushWatch()
    flush(statsDue || fresh.size > 0)
    fresh.clear()
    flusher = setTimer(tick, flushMs)
  }
  flusher = setTimer(tick, flushMs)
  let renewer: Timer = { cancel () {} }
  const renewTick = () => {
    if (stopped) return
    relay.renew()
    renewer = setTimer(renewTick, leaseMs / 3)
  }
  renewer = setTimer(renewTick, leaseMs / 3)

  const relay: ConsoleRelay = {
    get dropped () { return dropped },
    get remoteServers () { return new Set([...remote.console.keys(), ...remote.stats.keys()]).size },
    forget (serverId) {
      remote.console.delete(serverId)
      remote.stats.delete(serverId)
      for (const q of queues.values()) q.stats.delete(serverId)
    },
    attach (t) { target = t },
    interest (serverId, kind, on, replay) {
      if (on) {
        const first = !local[kind].has(serverId)
        local[kind].add(serverId)
        if (first || replay) watch(true, kind, [serverId], replay)
      } else if (local[kind].delete(serverId)) watch(false, kind, [serverId], false)
    },
    lines (serverId, lines) {
      for (const hub of interested('console', serverId)) enqueue(hub, serverId, lines, false)
    },
    stats (serverId, frame) {
      for (const hub of interested('stats', serverId)) queueOf(hub).stats.set(serverId, frame)
    },
    onWatch (payload) {
      if (payload === undefined || payload.length > PAYLOAD_BYTES + 400) return false
      const msg = JSON.parse(payload) as { hub?: unknown, on?: unknown, kind?: unknown, ids?: unknown, replay?: unknown }
      if (!isId(msg.hub) || typeof msg.on !== 'boolean' || (msg.kind !== 'console' && msg.kind !== 'stats')) return false
      if (msg.hub === hubId) return true
      const kind: Kind = msg.kind
      for (const id of ids(msg.ids)) {
        let hubs = remote[kind].get(id)
        if (msg.on) {
          if (hubs === undefined) remote[kind].set(id, hubs = new Map())
          hubs.set(msg.hub, now() + leaseMs)
          const ring = msg.replay === true && kind === 'console' && holds(id) ? target?.lines(id) ?? [] : []
          if (ring.length > 0) enqueue(msg.hub, id, ring, true)
          const latest = kind === 'stats' && holds(id) ? target?.latestStats(id) : undefined
          if (latest !== undefined) { queueOf(msg.hub).stats.set(id, latest); fresh.add(msg.hub) }
        } else if (hubs !== undefined) {
          hubs.delete(msg.hub)
          if (hubs.size === 0) remote[kind].delete(id)
        }
      }
      return true
    },
    onForward (payload) {
      if (payload === undefined || target === undefined) return payload !== undefined
      const items = JSON.parse(payload) as unknown
      if (!Array.isArray(items)) return false
      for (const item of items as Array<{ s?: unknown, l?: unknown, r?: unknown, f?: unknown }>) {
        if (typeof item !== 'object' || item === null) continue
        if (typeof item.f === 'string') {
          const serverId = (JSON.parse(item.f) as { serverId?: unknown }).serverId
          if (isId(serverId)) target.remoteStats(serverId, item.f)
        } else if (isId(item.s) && Array.isArray(item.l) && item.l.every(l => typeof l === 'string')) {
          target.remoteConsole(item.s, item.l as string[], item.r === 1)
        }
      }
      return true
    },
    interestedHubs: serverId => interested('console', serverId),
    renew () {
      watch(true, 'console', [...local.console], false)
      watch(true, 'stats', [...local.stats], false)
    },
    stop () {
      stopped = true
      pendingWatch.clear()
      flusher.cancel()
      renewer.cancel()
    }
  }
  return relay
}
