// Carries access changes (sessions revoked, users deleted or changed, servers deleted or given
// away) from PostgreSQL to this hub's panel sockets. A dedicated connection LISTENs on the auth
// channel; the routes NOTIFY inside the transaction of the change, so every hub instance hears of
// it at commit, whichever hub made it. A lost connection is redialled with backoff (full jitter);
// notifications sent meanwhile are lost, so after a redial `onReconnect` re-checks everything.
import type pg from 'pg'
import { AUTH_CHANNEL, parseAuthChange, type AuthChange } from '../db/sql/auth-notify.ts'
import { createListener } from './pg-listener.ts'

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
  const { connect, onChange, onReconnect, log, maxBackoffMs } = options
  // Changes are applied one at a time, in order: a grant followed by a revoke must end revoked.
  let chain: Promise<void> = Promise.resolve()
  const run = (fn: () => Promise<void>) => {
    chain = chain.then(fn).catch(err => log.warn({ err }, 'applying an access change failed'))
  }
  const listener = createListener({
    connect,
    channel: AUTH_CHANNEL,
    name: 'auth feed',
    onNotify: payload => {
      const change = parseAuthChange(payload)
      if (change !== undefined) run(async () => await onChange(change))
    },
    onReconnect: () => run(onReconnect),
    log,
    maxBackoffMs
  })

  return {
    start: listener.start,
    async stop () {
      await listener.stop()
      await chain
    }
  }
}
