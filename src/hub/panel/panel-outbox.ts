// The event stream of one panel connection, over the connection kernel's bounded outbox
// (connection/outbox.ts), through which every frame goes. Events go out in chunks; after each
// chunk the transport's buffered amount is checked. Above `highWaterBytes` the outbox
// stops sending events and keeps only the latest event per server (and per node), per kind, in
// `coalesced`: bounded by what the connection watches, never by how much happens. When the buffer
// drains below a quarter of the mark, the panel gets `resync {reason: "slow consumer"}` and then
// those latest events, in id order, so its view is current again without a resubscribe. A
// connection above the mark for `maxStallMs` is closed (1008): it is hopelessly behind. While
// coalescing, the kernel's outbox is told it is congested, so ephemeral frames are dropped.
import type { Outbox as KernelOutbox } from '../connection/outbox.ts'
import type { OutEvent, PanelLimits, SetTimer, Timer } from './types.ts'

const CHUNK = 64

export interface Outbox {
  /** Sends (or coalesces) events above the last id sent, in the order given (id order). */
  emit (events: OutEvent[]): void
  /** Resolves true once the buffer is below a quarter of the mark, false if the connection ended. */
  drained (): Promise<boolean>
  lastSent (): bigint
  overflowed (): boolean
  coalescedCount (): number
  stop (): void
}

export interface OutboxDeps {
  out: Pick<KernelOutbox, 'sendMany' | 'buffered' | 'congest'>
  limits: Pick<PanelLimits, 'highWaterBytes' | 'maxStallMs' | 'drainCheckMs'>
  now: () => number
  setTimer: SetTimer
  /** Whether the connection still watches what an event is about (subscriptions may have ended). */
  matches: (e: OutEvent) => boolean
  sendResync: (reason: string) => void
  onStall: () => void
}

export function createOutbox (deps: OutboxDeps): Outbox {
  const { out, limits, now, setTimer, matches } = deps
  let lastSent = 0n
  let coalesced: Map<string, OutEvent> | null = null
  let overflowSince = 0
  let stopped = false
  let timer: Timer | undefined
  const low = limits.highWaterBytes / 4

  function emit (events: OutEvent[]) {
    let i = 0
    while (i < events.length) {
      if (stopped) return
      if (coalesced !== null) {
        for (; i < events.length; i++) coalesce(events[i] as OutEvent)
        return
      }
      const frames: Buffer[] = []
      for (; i < events.length && frames.length < CHUNK; i++) {
        const e = events[i] as OutEvent
        if (e.id <= lastSent) continue
        frames.push(e.frame)
        lastSent = e.id
      }
      if (frames.length > 0 && !out.sendMany(frames)) return
      if (out.buffered() > limits.highWaterBytes) overflow()
    }
  }

  function coalesce (e: OutEvent) {
    if (e.id <= lastSent) return
    const key = `${e.kind}:${e.serverId ?? e.nodeId ?? ''}`
    const map = coalesced as Map<string, OutEvent>
    const held = map.get(key)
    if (held === undefined || held.id < e.id) map.set(key, e)
  }

  function overflow () {
    coalesced = new Map()
    out.congest(true)
    overflowSince = now()
    timer = setTimer(checkDrain, limits.drainCheckMs)
  }

  function checkDrain () {
    if (stopped || coalesced === null) return
    if (out.buffered() <= low) {
      const latest = [...coalesced.values()].filter(matches).sort((a, b) => (a.id < b.id ? -1 : 1))
      coalesced = null
      out.congest(false)
      deps.sendResync('slow consumer')
      emit(latest)
      return
    }
    if (now() - overflowSince > limits.maxStallMs) return deps.onStall()
    timer = setTimer(checkDrain, limits.drainCheckMs)
  }

  return {
    emit,
    drained () {
      const since = now()
      return new Promise(resolve => {
        const check = () => {
          if (stopped) return resolve(false)
          if (out.buffered() <= low) return resolve(true)
          if (now() - since > limits.maxStallMs) {
            deps.onStall()
            return resolve(false)
          }
          timer = setTimer(check, limits.drainCheckMs)
        }
        check()
      })
    },
    lastSent: () => lastSent,
    overflowed: () => coalesced !== null,
    coalescedCount: () => coalesced?.size ?? 0,
    stop () {
      stopped = true
      coalesced = null
      timer?.cancel()
    }
  }
}
