// Console output and stats (PROTOCOL.md 1.1): the hub's ring per server, latest stats and the
// panels watching them (console/console-hub.ts), and their forwarding across hubs that share the
// database (console/console-relay.ts: interest and batches over NOTIFY, each hub LISTENing on the
// shared watch channel and its own). Registered before both gateways: the agent gateway feeds it,
// the panel gateway subscribes panels to it.
import { randomUUID } from 'node:crypto'
import fp from 'fastify-plugin'
import { createConsoleHub, type ConsoleHub } from '../console/console-hub.ts'
import { channelOf, createConsoleRelay, WATCH_CHANNEL, type ConsoleRelay } from '../console/console-relay.ts'
import { createListener } from '../pg-listener.ts'
import { realTimer } from '../timers.ts'

declare module 'fastify' {
  interface FastifyInstance {
    consoleHub: ConsoleHub
    consoleRelay: ConsoleRelay
  }
}

export default fp(async app => {
  const hubId = randomUUID()
  const relay = createConsoleRelay({
    hubId,
    // Rare (a panel subscribing without a local ring): a walk over this hub's agents is fine.
    holds: serverId => app.agents.held().some(h => app.agents.get(h.nodeId)?.owns(serverId) === true),
    // Autocommit, outside any write transaction; at most a few per flush tick, never per line.
    notify: async (channel, payload) => { await app.db.pool.query('SELECT pg_notify($1, $2)', [channel, payload]) },
    setTimer: realTimer,
    log: app.log
  })
  const hub = createConsoleHub({ setTimer: realTimer, relay })
  relay.attach(hub)
  app.decorate('consoleHub', hub)
  app.decorate('consoleRelay', relay)
  const watchFeed = createListener({
    connect: () => app.db.dedicatedClient('hub-console-watch'),
    channel: WATCH_CHANNEL,
    name: 'console watch feed',
    onNotify: payload => relay.onWatch(payload),
    onReconnect: () => {},
    log: app.log
  })
  const forwardFeed = createListener({
    connect: () => app.db.dedicatedClient('hub-console-forward'),
    channel: channelOf(hubId),
    name: 'console forward feed',
    onNotify: payload => relay.onForward(payload),
    // Forwarding hubs may have let our interest lapse while we were away.
    onReconnect: () => relay.renew(),
    log: app.log
  })
  await watchFeed.start()
  await forwardFeed.start()
  app.addHook('onClose', async () => {
    hub.stop()
    relay.stop()
    await watchFeed.stop()
    await forwardFeed.stop()
  })
}, { name: 'hub-console', dependencies: ['hub-database'] })
