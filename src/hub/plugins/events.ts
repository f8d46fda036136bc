// The event log's runtime side: the feed that carries committed events from PostgreSQL to this
// process's bus (its retention is a scheduled prune, plugins/retention.ts). Also the auth feed
// (access changes from every hub), which the panel and agent gateways subscribe to.
import fp from 'fastify-plugin'
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

export default fp<EventsPluginOptions>(async (app, { bus }) => {
  const feed = createEventFeed({ pool: app.db.pool, connect: () => app.db.dedicatedClient('hub-events'), bus, log: app.log })
  await feed.start()
  app.decorate('events', feed)
  const authFeed = createAuthFeed({ connect: () => app.db.dedicatedClient('hub-auth'), log: app.log })
  await authFeed.start()
  app.decorate('authFeed', authFeed)

  app.addHook('onClose', async () => {
    await feed.stop()
    await authFeed.stop()
  })
}, { name: 'hub-events', dependencies: ['hub-database'] })
