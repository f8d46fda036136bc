// Feeds the bus from the event log. A dedicated connection LISTENs on the events channel; each
// notification (sent at commit by append_events) wakes one read of everything after the last id
// this process has published. Reads never overlap and always resume from that id, so events
// reach the bus once each, in id order, whichever hub committed them. A lost connection is
// redialled with backoff and followed by a catch-up read; a slow timer reads too, as a safety
// net for a connection that died without telling. Events pruned before this process read them
// are reported as a gap (panels get `resync`).
import type pg from 'pg'
import { EVENTS_CHANNEL, eventBounds, readEventsAfter } from '../db/sql/events.ts'
import type { Bus } from './bus.ts'
import { createListener } from './pg-listener.ts'

// An event id as append_events notifies it: a bigint's decimal digits.
const EVENT_ID = /^[1-9][0-9]{0,18}$/

export interface EventFeedOptions {
  pool: pg.Pool
  connect: () => pg.Client
  bus: Bus
  log: { warn (obj: object, msg: string): void, error (obj: object, msg: string): void }
  /** Events per read. */
  batch?: number
  /** The safety-net read interval. */
  pollMs?: number
  /** Upper bound of the redial delay (full jitter from 100 ms, doubling). */
  maxBackoffMs?: number
}

export interface EventFeed {
  start (): Promise<void>
  stop (): Promise<void>
  /** The last event id published to the bus. */
  lastId (): string
}

export function createEventFeed (options: EventFeedOptions): EventFeed {
  const { pool, connect, bus, log, batch = 2_000, pollMs = 5_000, maxBackoffMs = 5_000 } = options
  let cursor = '0'
  let stopped = false
  let reading: Promise<void> | undefined
  let again = false
  let poll: NodeJS.Timeout | undefined

  /** Reads until caught up; a wake-up during a read makes it go round once more. */
  function wake (): void {
    if (stopped) return
    if (reading !== undefined) {
      again = true
      return
    }
    reading = (async () => {
      do {
        again = false
        if (stopped) return
        for (;;) {
          const events = await readEventsAfter(pool, cursor, batch)
          if (events.length === 0) break
          const first = events[0] as { id: string }
          if (BigInt(first.id) !== BigInt(cursor) + 1n) {
            log.warn({ after: cursor, next: first.id }, 'events were pruned before this hub read them')
            bus.gap()
          }
          cursor = (events[events.length - 1] as { id: string }).id
          bus.publish(events)
          if (events.length < batch || stopped) break
        }
      } while (again)
    })()
      .catch(err => log.error({ err }, 'event feed read failed; retrying on the next wake-up'))
      .finally(() => { reading = undefined })
  }

  const listener = createListener({
    connect,
    channel: EVENTS_CHANNEL,
    name: 'event feed',
    onNotify: payload => {
      // append_events sends the last id committed; anything else is not from it.
      if (payload === undefined || !EVENT_ID.test(payload)) return false
      if (BigInt(payload) > BigInt(cursor)) wake()
      return true
    },
    onReconnect: wake,
    log,
    maxBackoffMs
  })

  return {
    async start () {
      cursor = (await eventBounds(pool)).last
      await listener.start()
      poll = setInterval(wake, pollMs)
      poll.unref()
      wake() // anything committed between reading the bound and LISTEN
    },
    async stop () {
      stopped = true
      clearInterval(poll)
      await listener.stop()
      await reading
    },
    lastId: () => cursor
  }
}
