// Console and stats across hubs (docs/architecture.md "Across hubs"): a panel on hub B watching a
// server whose agent is on hub A. Never per line and never inside a write transaction:
// - Interest, over PostgreSQL NOTIFY: a hub with a local watcher NOTIFYs `hub_console_watch`
//   {hub, addr, on|off, console, stats, replay} when the first panel starts (or the last stops)
//   watching (changes coalesced per flush, up to 100 ids per payload), and renews it every
//   `leaseMs / 3`; every hub records it with an expiry and the watcher's link address, so an
//   agent moving to any hub finds the interest already there.
// - Forwarding: only the hub that receives the agent's lines holds the agent; it queues them per
//   interested hub. Over a direct link (hub-links.ts) a queue goes out on the next timer turn,
//   packed into frames of up to 60 KB; without one (no address advertised, the link not open yet
//   or down) it goes every `flushMs` (10 ms) as NOTIFYs on that hub's own channel
//   (`hub_console_<id>`), each payload under PAYLOAD_BYTES. When a link opens, the NOTIFYs still
//   being sent to that hub go first (then 100 ms more, for their delivery), so its lines stay in
//   order. Stats arrive already paced (console-hub.ts) and go with the next flush, the latest per
//   server. A queue over `maxQueueBytes` drops (ephemeral data).
// - Replay: a watch with `replay` is answered by the hub holding a ring for the server, ahead of
//   any live line on the same queue; the watching hub sends it only to panels awaiting it.
// Payloads and frames are untrusted: parsed with bounds, ids checked; anything else is ignored.
import { isCanonicalUuid } from '../../agent-protocol/ids.ts'
import type { SetTimer, Timer } from '../connection/types.ts'
import type { RelayHooks } from './console-hub.ts'
import { linkAddress, type LinkCarrier } from './hub-links.ts'

export const WATCH_CHANNEL = 'hub_console_watch'
export const channelOf = (hubId: string): string => `hub_console_${hubId.replaceAll('-', '')}`
/** Under PostgreSQL's 8,000-byte NOTIFY payload limit, with room for the envelope. */
export const PAYLOAD_BYTES = 7_600
const MAX_IDS_PER_WATCH = 100
/** Other hubs watching at most (a database is shared by a handful). */
const MAX_HUBS = 1_024
/** A frame on a link, at most: under any hub's HUB_MAX_FRAME_BYTES default (64 KiB). */
const LINK_FRAME_BYTES = 60_000
/** How long a link waits after the last NOTIFY to its hub committed (see `settling`). */
const SETTLE_MS = 100
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
  /** Direct links to other hubs; without them every queue goes by NOTIFY. */
  links?: LinkCarrier
  /** This hub's link address, advertised with its watches (undefined: others NOTIFY it). */
  addr?: () => string | undefined
  setTimer: SetTimer
  now?: () => number
  flushMs?: number
  leaseMs?: number
  maxQueueBytes?: number
  log: { warn (obj: object, msg: string): void }
}

export interface ConsoleRelay extends RelayHooks {
  attach (target: RelayTarget): void
  onWatch (payload: string | undefined): boolean
  onForward (payload: string | undefined): boolean
  /** A frame from a link (`{type: "relay", items}`): false if it is not one. */
  onLink (frame: string): boolean
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
  /** The same lines by cause: a full queue, a link over its buffer bound, a failed NOTIFY, a line too long. */
  readonly drops: { queue: number, link: number, notify: number, size: number }
  /** Payloads and frames sent since start, by carrier (metrics, tests). */
  readonly sent: { link: number, notify: number }
}

type Kind = 'console' | 'stats'
/** `lines[i]`: how many console lines `items[i]` carries (counted as dropped if they are lost). */
interface Queue { items: string[], lines: number[], bytes: number, stats: Map<string, string> }

const isId = isCanonicalUuid
const ids = (v: unknown): string[] => Array.isArray(v) ? v.slice(0, MAX_IDS_PER_WATCH).filter(isId) : []

export function createConsoleRelay (options: ConsoleRelayOptions): ConsoleRelay {
  const { hubId, holds, notify, links, setTimer, now = Date.now, flushMs = 10, leaseMs = 30_000, maxQueueBytes = 1024 * 1024, log } = options
  let target: RelayTarget | undefined
  const local = { console: new Set<string>(), stats: new Set<string>() }
  /** serverId → hub → lease expiry, per kind. */
  const remote = { console: new Map<string, Map<string, number>>(), stats: new Map<string, Map<string, number>>() }
  /** The link address each watching hub advertised (the latest). */
  const addrs = new Map<string, string>()
  /**
   * Every hub with a watch on: its latest lease's expiry. Hub ids come from NOTIFY payloads
   * (untrusted): past MAX_HUBS, watches from further hubs are ignored, so the leases, addresses
   * and links they would make stay bounded. Said once each time it fills.
   */
  const hubLeases = new Map<string, number>()
  let hubsFull = false
  const queues = new Map<string, Queue>()
  const sent = { link: 0, notify: 0 }
  const drops = { queue: 0, link: 0, notify: 0, size: 0 }
  let stopped = false

  /** NOTIFYs to each hub not yet sent: a link that opens waits for them, so lines stay in order. */
  const inflight = new Map<string, number>()
  /**
   * Committed is not yet delivered: the receiving hub's listener gets a NOTIFY a little after its
   * commit, and a link frame sent at once could overtake it. So after the last NOTIFY to a hub
   * the link waits SETTLE_MS more (hub → until when), once per switch from NOTIFY to link.
   */
  const settling = new Map<string, number>()
  const send = (channel: string, payload: string, lines = 0, hub?: string) => {
    if (hub !== undefined) { sent.notify++; inflight.set(hub, (inflight.get(hub) ?? 0) + 1) }
    notify(channel, payload).catch(err => {
      drops.notify += lines
      log.warn({ err, channel }, 'console relay NOTIFY failed; the data is dropped')
    }).finally(() => {
      if (hub === undefined) return
      const n = (inflight.get(hub) ?? 1) - 1
      if (n > 0) inflight.set(hub, n)
      else { inflight.delete(hub); settling.set(hub, now() + SETTLE_MS) }
    })
  }
  /**
   * How a queue for `hub` leaves: 'link' (its open link, at once), 'wait' (the link is open but
   * NOTIFYs sent before it are still on their way), 'notify' (no address, no link yet or any more,
   * or a hub taking frames under 8 KB: items are packed for NOTIFY, up to PAYLOAD_BYTES).
   */
  const carrier = (hub: string): 'link' | 'wait' | 'notify' => {
    const addr = addrs.get(hub)
    if (links === undefined || addr === undefined) return 'notify'
    if (links.state(hub, addr) !== 'open' || links.frameBytes(hub) < PAYLOAD_BYTES + 64) return 'notify'
    if (inflight.has(hub)) return 'wait'
    const until = settling.get(hub)
    if (until !== undefined) {
      if (now() < until) return 'wait'
      settling.delete(hub)
    }
    return 'link'
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
    const addr = options.addr?.()
    for (const { kind, on, replay, ids: all } of groups.values()) {
      for (let i = 0; i < all.length; i += MAX_IDS_PER_WATCH) {
        send(WATCH_CHANNEL, JSON.stringify({ hub: hubId, ...(addr === undefined ? {} : { addr }), on, kind, ids: all.slice(i, i + MAX_IDS_PER_WATCH), ...(replay ? { replay: true } : {}) }))
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
  // Queues for hubs with an open link go out on the next timer turn (a millisecond: what arrives
  // meanwhile shares the frame); the others wait for the 10 ms tick.
  let soon: Timer | undefined
  const queueOf = (hub: string): Queue => {
    let q = queues.get(hub)
    if (q === undefined) queues.set(hub, q = { items: [], lines: [], bytes: 0, stats: new Map() })
    if (soon === undefined && !stopped && carrier(hub) === 'link') soon = setTimer(() => { soon = undefined; flush(true) }, 0)
    return q
  }
  const enqueue = (hub: string, serverId: string, lines: readonly string[], replay: boolean) => {
    const q = queueOf(hub)
    let batch: string[] = []
    let size = 0
    const push = () => {
      if (batch.length === 0) return
      const item = JSON.stringify({ s: serverId, l: batch, ...(replay ? { r: 1 } : {}) })
      if (q.bytes + item.length > maxQueueBytes) drops.queue += batch.length
      else { q.items.push(item); q.lines.push(batch.length); q.bytes += item.length }
      batch = []
      size = 0
    }
    for (const line of lines) {
      const n = Buffer.byteLength(JSON.stringify(line))
      if (n > PAYLOAD_BYTES - 200) { drops.size++; continue }
      if (size + n > PAYLOAD_BYTES - 200) push()
      batch.push(line)
      size += n + 1
    }
    push()
  }
  /** Packs items into payloads of at most `max` bytes, in order; `out` sends one (its line count). */
  const pack = (items: string[], counts: number[], max: number, out: (parts: string[], lines: number) => void) => {
    let parts: string[] = []
    let size = 0
    let lines = 0
    items.forEach((item, i) => {
      const n = Buffer.byteLength(item)
      if (n > max) { drops.size += Math.max(1, counts[i] ?? 0); return }
      if (size + n + 1 > max && parts.length > 0) { out(parts, lines); parts = []; size = 0; lines = 0 }
      parts.push(item)
      size += n + 1
      lines += counts[i] ?? 0
    })
    if (parts.length > 0) out(parts, lines)
  }
  /** Sends the queues: only those going by link when `linksOnly` (the soon flush). */
  const flush = (linksOnly: boolean) => {
    for (const [hub, q] of queues) {
      const how = carrier(hub)
      if (how === 'wait' || (linksOnly && how !== 'link')) continue
      const items = q.items
      const counts = q.lines
      for (const frame of q.stats.values()) { items.push(JSON.stringify({ f: frame })); counts.push(0) }
      queues.delete(hub)
      if (how === 'link') {
        const max = Math.min(LINK_FRAME_BYTES, (links as LinkCarrier).frameBytes(hub) - 64)
        pack(items, counts, max, (parts, lines) => {
          if ((links as LinkCarrier).send(hub, `{"type":"relay","items":[${parts.join(',')}]}`)) sent.link++
          else drops.link += lines
        })
      } else {
        pack(items, counts, PAYLOAD_BYTES, (parts, lines) => send(channelOf(hub), `[${parts.join(',')}]`, lines, hub))
      }
    }
  }

  let flusher: Timer = { cancel () {} }
  const tick = () => {
    if (stopped) return
    flushWatch()
    flush(false)
    flusher = setTimer(tick, flushMs)
  }
  flusher = setTimer(tick, flushMs)
  let renewer: Timer = { cancel () {} }
  const renewTick = () => {
    if (stopped) return
    relay.renew()
    // Addresses and links of hubs with no live lease go (a restarted hub comes back with a new id).
    const live = new Set<string>()
    for (const kind of ['console', 'stats'] as const) for (const id of [...remote[kind].keys()]) for (const hub of interested(kind, id)) live.add(hub)
    for (const hub of addrs.keys()) if (!live.has(hub)) addrs.delete(hub)
    for (const [hub, until] of settling) if (until <= now()) settling.delete(hub)
    for (const [hub, until] of hubLeases) if (until < now()) hubLeases.delete(hub)
    links?.retain(live)
    renewer = setTimer(renewTick, leaseMs / 3)
  }
  renewer = setTimer(renewTick, leaseMs / 3)

  /**
   * Items from another hub (a NOTIFY payload's list, or a link frame's `items`): each checked on
   * its own, a bad one skipped (the rest of the batch still arrives). A stats item must be a stats
   * frame of a server: panels get its text as it is. A console item without lines is skipped (it
   * would send panels an empty frame and end their wait for a replay).
   */
  const deliver = (items: unknown[]) => {
    if (target === undefined) return
    for (const item of items as Array<{ s?: unknown, l?: unknown, r?: unknown, f?: unknown } | null>) {
      if (typeof item !== 'object' || item === null) continue
      if (typeof item.f === 'string') {
        const serverId = statsServer(item.f)
        if (serverId !== undefined) target.remoteStats(serverId, item.f)
      } else if (isId(item.s) && Array.isArray(item.l) && item.l.length > 0 && item.l.every(l => typeof l === 'string')) {
        target.remoteConsole(item.s, item.l as string[], item.r === 1)
      }
    }
  }

  const relay: ConsoleRelay = {
    get dropped () { return drops.queue + drops.link + drops.notify + drops.size },
    drops,
    sent,
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
      const msg = JSON.parse(payload) as { hub?: unknown, addr?: unknown, on?: unknown, kind?: unknown, ids?: unknown, replay?: unknown }
      if (!isId(msg.hub) || typeof msg.on !== 'boolean' || (msg.kind !== 'console' && msg.kind !== 'stats')) return false
      if (msg.hub === hubId) return true
      if (msg.on) {
        if (!hubLeases.has(msg.hub) && hubLeases.size >= MAX_HUBS) {
          if (!hubsFull) log.warn({ hub: msg.hub, maxHubs: MAX_HUBS }, 'console relay: watches from too many hubs; those of further hubs are ignored')
          hubsFull = true
          return true
        }
        hubsFull = false
        hubLeases.set(msg.hub, now() + leaseMs)
      }
      const addr = linkAddress(msg.addr)
      if (addr !== undefined && hubLeases.has(msg.hub)) { // an off from an unknown hub records nothing
        // Dialled with the first thing to send (a replay, a line, stats), so only a hub holding
        // the watched servers dials: not every hub that hears the watch.
        addrs.set(msg.hub, addr)
      }
      const kind: Kind = msg.kind
      for (const id of ids(msg.ids)) {
        let hubs = remote[kind].get(id)
        if (msg.on) {
          if (hubs === undefined) remote[kind].set(id, hubs = new Map())
          // A renewal (every 10 s, every id) asks nothing: only a new lease gets the latest stats.
          const fresh = (hubs.get(msg.hub) ?? -Infinity) < now()
          hubs.set(msg.hub, now() + leaseMs)
          const ring = msg.replay === true && kind === 'console' && holds(id) ? target?.lines(id) ?? [] : []
          if (ring.length > 0) enqueue(msg.hub, id, ring, true)
          const latest = kind === 'stats' && fresh && holds(id) ? target?.latestStats(id) : undefined
          if (latest !== undefined) queueOf(msg.hub).stats.set(id, latest)
        } else if (hubs !== undefined) {
          hubs.delete(msg.hub)
          if (hubs.size === 0) remote[kind].delete(id)
        }
      }
      return true
    },
    onForward (payload) {
      if (payload === undefined) return false
      const items = JSON.parse(payload) as unknown
      if (!Array.isArray(items)) return false
      deliver(items)
      return true
    },
    onLink (frame) {
      const msg = JSON.parse(frame) as { type?: unknown, items?: unknown }
      if (msg.type !== 'relay' || !Array.isArray(msg.items)) return false
      deliver(msg.items)
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
      soon?.cancel()
    }
  }
  return relay
}

/** The server of a stats frame (its JSON text), or undefined if it is not one. */
function statsServer (text: string): string | undefined {
  try {
    const frame = JSON.parse(text) as { type?: unknown, serverId?: unknown } | null
    return typeof frame === 'object' && frame !== null && frame.type === 'stats' && isId(frame.serverId) ? frame.serverId : undefined
  } catch {
    return undefined
  }
}
