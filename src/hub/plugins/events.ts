// The event log's runtime side: the feed that carries committed events from PostgreSQL to this
// process's bus, and the background pruning that enforces the retention. Also the auth feed
// (access changes from every hub), which the panel and agent gateways subscribe to.
import fp from 'fastify-plugin'
import { pruneEvents } from '../../db/sql/events.ts'
import type { Bus } from '../bus.ts'
import type { Config } from '../config.ts'
import { createAuthFeed, type AuthFeed } from '../auth-feed.ts'
import { createEventFeed, type EventFeed } from '../event-feed.ts'

declare module 'fastify' {
  interface FastifyInstance {
    events: EventFeed
    authFeed: AuthFeed
  }
}

export interface EventsPluginOptions {
  config: Config
  bus: Bus
}

export default fp<EventsPluginOptions>(async (app, { config, bus }) => {
  const feed = createEventFeed({ pool: app.db.pool, connect: () => app.db.dedicatedClient('hub-events'), bus, log: app.log })
  await feed.start()
  app.decorate('events', feed)
  const authFeed = createAuthFeed({ connect: () => app.db.dedicatedClient('hub-auth'), log: app.log })
  await authFeed.start()
  app.decorate('authFeed', authFeed)

  // Several hubs may prune at once: each DELETE is idempotent, so that is only wasted work.
  const everyMs = Math.min(60_000, Math.max(1_000, Math.floor(config.eventRetentionMs / 10)))
  let pruning: Promise<void> | undefined
  const pruner = setInterval(() => {
    pruning ??= pruneEvents(app.db.pool, config.eventRetentionCount, config.eventRetentionMs)
      .then(removed => { if (removed > 0) app.log.debug({ removed }, 'events pruned') })
      .catch(err => app.log.warn({ err }, 'event pruning failed; retrying later'))
      .finally(() => { pruning = undefined })
  }, everyMs)
  pruner.unref()

  app.addHook('onClose', async () => {
    clearInterval(pruner)
    await pruning
    await feed.stop()
    await authFeed.stop()
  })
}, { name: 'hub-events', dependencies: ['hub-database'] })
