// Carries access changes (sessions revoked, users deleted or changed, servers deleted or given
// away) from PostgreSQL to this hub's panel sockets. A dedicated connection LISTENs on the auth
// channel; the routes NOTIFY inside the transaction of the change, so every hub instance hears of
// it at commit, whichever hub made it. A lost connection is redialled with backoff (full jitter);
// notifications sent meanwhile are lost, so after a redial `onReconnect` re-checks everything.
import type pg from 'pg'
import { AUTH_CHANNEL, parseAuthChange, type AuthChange } from '../db/sql/auth-notify.ts'

export interface AuthFeedOptions {
  connect: () => pg.Client
  onChange: (change: AuthChange) => Promise<void>
  onReconnect: () => Promise<void>
  log: { warn (obj: object, msg: string): void }
  maxBackoffMs?: number
}

export interface AuthFeed {
  start (): Promise<void>
  stop (): Promise<void>
}

export function createAuthFeed (options: AuthFeedOptions): AuthFeed {
  const { connect, onChange, onReconnect, log, maxBackoffMs = 5_000 } = options
  let client: pg.Client | undefined
  let stopped = false
  let attempts = 0
  let redial: NodeJS.Timeout | undefined
  // Changes are applied one at a time, in order: a grant followed by a revoke must end revoked.
  let chain: Promise<void> = Promise.resolve()
  const run = (fn: () => Promise<void>) => {
    chain = chain.then(fn).catch(err => log.warn({ err }, 'applying an access change failed'))
  }

  async function listen (): Promise<void> {
    const c = connect()
    c.on('notification', msg => {
      const change = parseAuthChange(msg.payload)
      if (change !== undefined) run(async () => await onChange(change))
    })
    c.on('error', err => {
      log.warn({ err }, 'auth feed connection lost')
      lost(c)
    })
    c.on('end', () => lost(c))
    client = c
    await c.connect()
    await c.query(`LISTEN ${AUTH_CHANNEL}`)
    attempts = 0
  }

  function lost (c: pg.Client): void {
    if (client !== c || stopped) return
    client = undefined
    c.end().catch(() => {})
    const delay = Math.random() * Math.min(maxBackoffMs, 100 * 2 ** attempts++)
    redial = setTimeout(() => {
      listen().then(() => run(onReconnect), err => {
        log.warn({ err }, 'auth feed could not reconnect')
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
      await chain
      await c?.end().catch(() => {})
    }
  }
}
