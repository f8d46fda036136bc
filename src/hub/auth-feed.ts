// Carries access changes (sessions revoked, users deleted or changed, servers deleted or given
// away, node tokens rotated or nodes deleted) from PostgreSQL to this hub's sockets. A dedicated
// connection LISTENs on the auth channel; the writers NOTIFY inside the transaction of the
// change, so every hub instance hears of it at commit, whichever hub made it. A lost connection
// is redialled with backoff (full jitter); notifications sent meanwhile are lost, so after a
// redial every subscriber's `onReconnect` re-checks everything.
//
// One feed per hub (plugins/events.ts), shared by the panel gateway and the agent gateway through
// `subscribe`. Payloads are untrusted (parseAuthChange): anything else is logged and ignored.
import type pg from 'pg'
import { AUTH_CHANNEL, parseAuthChange, type AuthChange } from '../db/sql/auth-notify.ts'
import { createListener } from './pg-listener.ts'

export interface AuthChangeHandler {
  onChange: (change: AuthChange) => Promise<void>
  onReconnect: () => Promise<void>
}

export interface AuthFeedOptions {
  connect: () => pg.Client
  log: { warn (obj: object, msg: string): void }
  maxBackoffMs?: number
}

export interface AuthFeed {
  start (): Promise<void>
  stop (): Promise<void>
  /** Receives every change from now on, in order; returns the unsubscribe. */
  subscribe (handler: AuthChangeHandler): () => void
}

export function createAuthFeed (options: AuthFeedOptions): AuthFeed {
  const { connect, log, maxBackoffMs } = options
  const handlers = new Set<AuthChangeHandler>()
  // Changes are applied one at a time, in order: a grant followed by a revoke must end revoked.
  // One subscriber's failure neither stops the chain nor the other subscribers.
  let chain: Promise<void> = Promise.resolve()
  const run = (fn: (h: AuthChangeHandler) => Promise<void>) => {
    for (const handler of [...handlers]) {
      chain = chain.then(async () => await fn(handler)).catch(err => log.warn({ err }, 'applying an access change failed'))
    }
  }
  const listener = createListener({
    connect,
    channel: AUTH_CHANNEL,
    name: 'auth feed',
    onNotify: payload => {
      const change = parseAuthChange(payload)
      if (change === undefined) return false
      run(async h => await h.onChange(change))
      return true
    },
    onReconnect: () => run(async h => await h.onReconnect()),
    log,
    maxBackoffMs
  })

  return {
    start: listener.start,
    async stop () {
      await listener.stop()
      await chain
    },
    subscribe (handler) {
      handlers.add(handler)
      return () => { handlers.delete(handler) }
    }
  }
}
