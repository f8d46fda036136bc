// Console and stats across hubs (docs/architecture.md "Across hubs"): a panel on hub B watching a
// server whose agent is on hub A. Never per line and never inside a write transaction:
// - Interest, over PostgreSQL NOTIFY: a hub with a local watcher NOTIFYs `hub_console_watch`
//   {hub, addr, on|off, console, stats, replay} when the first panel starts (or the last stops)
//   watching (changes coalesced per flush, up to 100 ids per payload), and renews it every
//   `leaseMs / 3`; every hub records it with an expiry and the watcher's link address, so an
//   agent moving to any hub finds the interest already there.
// - Forwarding: only the hub that receives the agent's lines holds the agent; it queues them per
//   interested hub, and relay-outbox.ts sends each queue over a direct link or by NOTIFY. Stats
//   arrive already paced (console-hub.ts) and go with the next flush, the latest per server.
// - Replay: a watch with `replay` is answered by the hub holding a ring for the server, ahead of
//   any live line on the same queue; the watching hub sends it only to panels awaiting it.
// Payloads and frames are untrusted: parsed with bounds, ids checked; anything else is ignored.
import { isCanonicalUuid } from '../../agent-protocol/ids.ts'
import type { SetTimer, Timer } from '../connection/types.ts'
import type { RelayHooks } from './console-hub.ts'
import { linkAddress, type LinkCarrier } from './hub-links.ts'
import { createRelayOutbox, PAYLOAD_BYTES } from './relay-outbox.ts'

export { channelOf, PAYLOAD_BYTES } from './relay-outbox.ts'

export const WATCH_CHANNEL = 'hub_console_watch'
const MAX_IDS_PER_WATCH = 100
/** Other hubs watching at most (a database is shared by a handful). */
const MAX_HUBS = 1_024

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
  const outbox = createRelayOutbox({ notify, links, addrOf: hub => addrs.get(hub), setTimer, now, maxQueueBytes, log })
  let stopped = false
  const sendWatch = (payload: string) => {
    notify(WATCH_CHANNEL, payload).catch(err => log.warn({ err }, 'console relay watch NOTIFY failed'))
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
        sendWatch(JSON.stringify({ hub: hubId, ...(addr === undefined ? {} : { addr }), on, kind, ids: all.slice(i, i + MAX_IDS_PER_WATCH), ...(replay ? { replay: true } : {}) }))
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
  let flusher: Timer = { cancel () {} }
  const tick = () => {
    if (stopped) return
    flushWatch()
    outbox.flush()
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
    outbox.tidy()
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
    get dropped () { const d = outbox.drops; return d.queue + d.link + d.notify + d.size },
    drops: outbox.drops,
    sent: outbox.sent,
    get remoteServers () { return new Set([...remote.console.keys(), ...remote.stats.keys()]).size },
    forget (serverId) {
      remote.console.delete(serverId)
      remote.stats.delete(serverId)
      outbox.forget(serverId)
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
      for (const hub of interested('console', serverId)) outbox.lines(hub, serverId, lines, false)
    },
    stats (serverId, frame) {
      for (const hub of interested('stats', serverId)) outbox.stats(hub, serverId, frame)
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
          if (ring.length > 0) outbox.lines(msg.hub, id, ring, true)
          const latest = kind === 'stats' && fresh && holds(id) ? target?.latestStats(id) : undefined
          if (latest !== undefined) outbox.stats(msg.hub, id, latest)
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
      outbox.stop()
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
