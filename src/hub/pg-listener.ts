// A dedicated PostgreSQL connection that LISTENs on one channel and redials when it is lost,
// with full-jitter backoff (100 ms doubling up to maxBackoffMs). Notifications sent while it was
// away are lost, so `onReconnect` runs after every redial for the owner to catch up. Used by the
// event feed and the auth feed.
//
// A payload is untrusted input: any role that can connect to the database can NOTIFY any channel
// with any text. The owner's onNotify parses it and answers false for a payload it does not
// recognise; a throw is caught here too, since an exception in a pg 'notification' handler would
// be uncaught and end the process. Either way the notification is ignored and logged, at most one
// line per IGNORED_LOG_MS (with a count), so a flood of garbage cannot flood the log either.
import type pg from 'pg'

/** The longest part of an ignored payload quoted in the log. */
const QUOTED_PAYLOAD = 64
const IGNORED_LOG_MS = 10_000

export interface ListenerOptions {
  connect: () => pg.Client
  channel: string
  /** For log lines: 'event feed', 'auth feed'. */
  name: string
  /** Handles one notification; false when the payload is not one the owner recognises. */
  onNotify: (payload: string | undefined) => boolean
  onReconnect: () => void
  log: { warn (obj: object, msg: string): void }
  maxBackoffMs?: number
  now?: () => number
}

export interface Listener {
  start (): Promise<void>
  /** Ends the connection; no redial after this. */
  stop (): Promise<void>
}

export function createListener (options: ListenerOptions): Listener {
  const { connect, channel, name, onNotify, onReconnect, log, maxBackoffMs = 5_000, now = Date.now } = options
  let client: pg.Client | undefined
  let stopped = false
  let attempts = 0
  let redial: NodeJS.Timeout | undefined
  let ignored = 0
  let lastIgnoredLog = -Infinity

  function notified (payload: string | undefined): void {
    let err: unknown
    try {
      if (onNotify(payload)) return
    } catch (caught) {
      err = caught
    }
    ignored++
    const t = now()
    if (t - lastIgnoredLog < IGNORED_LOG_MS) return
    lastIgnoredLog = t
    const quoted = payload === undefined ? undefined : payload.slice(0, QUOTED_PAYLOAD)
    log.warn({ channel, payload: quoted, ignored, err }, `${name} ignored notifications it does not recognise`)
    ignored = 0
  }

  async function listen (): Promise<void> {
    const c = connect()
    c.on('notification', msg => { if (msg.channel === channel) notified(msg.payload) })
    c.on('error', err => {
      log.warn({ err }, `${name} connection lost`)
      lost(c)
    })
    c.on('end', () => lost(c))
    client = c
    await c.connect()
    await c.query(`LISTEN ${channel}`)
    attempts = 0
  }

  function lost (c: pg.Client): void {
    if (client !== c || stopped) return
    client = undefined
    c.end().catch(() => {})
    const delay = Math.random() * Math.min(maxBackoffMs, 100 * 2 ** attempts++)
    redial = setTimeout(() => {
      listen().then(onReconnect, err => {
        log.warn({ err }, `${name} could not reconnect`)
        lost(client ?? c)
      })
    }, delay)
  }

  return {
    async start () { await listen() },
    async stop () {
      stopped = true
      clearTimeout(redial)
      const c = client
      client = undefined
      await c?.end().catch(() => {})
    }
  }
}
