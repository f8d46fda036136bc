// The event log's runtime side: the feed that carries committed events from PostgreSQL to this
// process's bus. Its retention is a scheduled prune (plugins/retention.ts).
import fp from 'fastify-plugin'
import type { Bus } from '../bus.ts'
import type { Config } from '../config.ts'
import { createEventFeed, type EventFeed } from '../event-feed.ts'

declare module 'fastify' {
  interface FastifyInstance {
    events: EventFeed
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

  app.addHook('onClose', async () => {
    await feed.stop()
  })
}, { name: 'hub-events', dependencies: ['hub-database'] })
