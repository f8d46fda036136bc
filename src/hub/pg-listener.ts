// A dedicated PostgreSQL connection that LISTENs on one channel and redials when it is lost,
// with full-jitter backoff (100 ms doubling up to maxBackoffMs). Notifications sent while it was
// away are lost, so `onReconnect` runs after every redial for the owner to catch up. Used by the
// event feed and the auth feed.
import type pg from 'pg'

export interface ListenerOptions {
  connect: () => pg.Client
  channel: string
  /** For log lines: 'event feed', 'auth feed'. */
  name: string
  onNotify: (payload: string | undefined) => void
  onReconnect: () => void
  log: { warn (obj: object, msg: string): void }
  maxBackoffMs?: number
}

export interface Listener {
  start (): Promise<void>
  /** Ends the connection; no redial after this. */
  stop (): Promise<void>
}

export function createListener (options: ListenerOptions): Listener {
  const { connect, channel, name, onNotify, onReconnect, log, maxBackoffMs = 5_000 } = options
  let client: pg.Client | undefined
  let stopped = false
  let attempts = 0
  let redial: NodeJS.Timeout | undefined

  async function listen (): Promise<void> {
    const c = connect()
    c.on('notification', msg => onNotify(msg.payload))
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
