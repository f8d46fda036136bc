// The sending half of the console relay (console-relay.ts): one queue per destination hub, and
// the carrier each queue leaves by. Over a direct link (hub-links.ts) a queue goes out on the next
// timer turn (a millisecond: what arrives meanwhile shares the frame), packed into frames of up to
// 60 KB; without one (no address advertised, the link not open yet or down, or a hub taking
// frames under 8 KB) it goes with the relay's 10 ms tick as NOTIFYs on that hub's own channel
// (`hub_console_<id>`), each payload under PAYLOAD_BYTES. When a link opens, the NOTIFYs still
// being sent to that hub go first (then SETTLE_MS more, for their delivery), so its lines stay in
// order. Stats are the latest per server. A queue over `maxQueueBytes` drops (ephemeral data);
// every line lost is counted by cause.
import type { Log, SetTimer, Timer } from '../connection/types.ts'
import type { LinkCarrier } from './hub-links.ts'

export const channelOf = (hubId: string): string => `hub_console_${hubId.replaceAll('-', '')}`
/** Under PostgreSQL's 8,000-byte NOTIFY payload limit, with room for the envelope. */
export const PAYLOAD_BYTES = 7_600
/** A frame on a link, at most: under any hub's HUB_MAX_FRAME_BYTES default (64 KiB). */
const LINK_FRAME_BYTES = 60_000
/** How long a link waits after the last NOTIFY to its hub committed (see `settling`). */
const SETTLE_MS = 100

export interface RelayOutboxOptions {
  notify: (channel: string, payload: string) => Promise<void>
  /** Direct links to other hubs; without them every queue goes by NOTIFY. */
  links?: LinkCarrier
  /** The link address `hub` advertised, if it did. */
  addrOf: (hub: string) => string | undefined
  setTimer: SetTimer
  now: () => number
  maxQueueBytes: number
  log: Log
}

export interface RelayOutbox {
  lines (hub: string, serverId: string, lines: readonly string[], replay: boolean): void
  stats (hub: string, serverId: string, frame: string): void
  /** Sends every queue that can go (the relay's tick). */
  flush (): void
  /** The server was deleted: its queued stats go. */
  forget (serverId: string): void
  /** Lets go of what settled (the relay's renewal tick). */
  tidy (): void
  stop (): void
  /** Lines lost, by cause: a full queue, a link over its buffer bound, a failed NOTIFY, a line too long. */
  readonly drops: { queue: number, link: number, notify: number, size: number }
  /** Payloads and frames sent since start, by carrier. */
  readonly sent: { link: number, notify: number }
}

/** `lines[i]`: how many console lines `items[i]` carries (counted as dropped if they are lost). */
interface Queue { items: string[], lines: number[], bytes: number, stats: Map<string, string> }

export function createRelayOutbox (options: RelayOutboxOptions): RelayOutbox {
  const { notify, links, addrOf, setTimer, now, maxQueueBytes, log } = options
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
  const sendNotify = (hub: string, payload: string, lines: number) => {
    sent.notify++
    inflight.set(hub, (inflight.get(hub) ?? 0) + 1)
    notify(channelOf(hub), payload).catch(err => {
      drops.notify += lines
      log.warn({ err, hub }, 'console relay NOTIFY failed; the data is dropped')
    }).finally(() => {
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
    const addr = addrOf(hub)
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

  let soon: Timer | undefined
  const queueOf = (hub: string): Queue => {
    let q = queues.get(hub)
    if (q === undefined) queues.set(hub, q = { items: [], lines: [], bytes: 0, stats: new Map() })
    if (soon === undefined && !stopped && carrier(hub) === 'link') soon = setTimer(() => { soon = undefined; flush(true) }, 0)
    return q
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
  function flush (linksOnly: boolean): void {
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
        pack(items, counts, PAYLOAD_BYTES, (parts, lines) => sendNotify(hub, `[${parts.join(',')}]`, lines))
      }
    }
  }

  return {
    drops,
    sent,
    lines (hub, serverId, lines, replay) {
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
    },
    stats (hub, serverId, frame) { queueOf(hub).stats.set(serverId, frame) },
    flush: () => flush(false),
    forget (serverId) { for (const q of queues.values()) q.stats.delete(serverId) },
    tidy () { for (const [hub, until] of settling) if (until <= now()) settling.delete(hub) },
    stop () {
      stopped = true
      soon?.cancel()
    }
  }
}
