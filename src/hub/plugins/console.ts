// Console output and stats (PROTOCOL.md 1.1): the hub's ring per server, latest stats and the
// panels watching them (console/console-hub.ts), and their forwarding across hubs that share the
// database (console/console-relay.ts: interest and batches over NOTIFY, each hub LISTENing on the
// shared watch channel and its own). Registered before both gateways: the agent gateway feeds it,
// the panel gateway subscribes panels to it.
import { randomUUID } from 'node:crypto'
import fp from 'fastify-plugin'
import type pg from 'pg'
import { createConsoleHub, type ConsoleHub } from '../console/console-hub.ts'
import { channelOf, createConsoleRelay, WATCH_CHANNEL, type ConsoleRelay } from '../console/console-relay.ts'
import { notifyMany } from '../../db/sql/notify-many.ts'
import { createGroupCommit, type Refusal } from '../group-commit.ts'
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
  // The relay's NOTIFYs have a connection of their own: they neither wait in the pool's queue
  // behind status ingest (a relay stalled there lags every cross-hub panel) nor take its
  // connections. Opened on first use; a failure drops it and the next batch dials again.
  let notifyClient: Promise<pg.Client> | undefined
  const notifyConnection = async () => await (notifyClient ??= (async () => {
    const client = app.db.dedicatedClient('hub-console-notify')
    client.on('error', () => { notifyClient = undefined })
    await client.connect()
    // A NOTIFY gives its transaction an id, so each commit would wait for a WAL flush (an fsync):
    // nothing here needs durability (the lines are ephemeral, and listeners are told at commit
    // either way), so this connection does not wait for it.
    // And no statement may hold the lane for long: the queue behind it is bounded, then refused.
    await client.query("SET synchronous_commit = off; SET statement_timeout = '5s'")
    return client
  })().catch(err => { notifyClient = undefined; throw err }))
  // At most 2,000 payloads (~15 MB) wait; beyond, batches are dropped (ephemeral data).
  const notifier = createGroupCommit<{ channel: string, payload: string }, 'sent' | Refusal>({
    commit: async items => {
      const client = await notifyConnection()
      try {
        await notifyMany(client, items)
      } catch (err) {
        if (notifyClient !== undefined) { notifyClient = undefined; client.end().catch(() => {}) }
        throw err
      }
      return items.map(() => 'sent' as const)
    },
    fail: why => why,
    maxBatch: 200,
    maxQueue: 2_000
  })
  const relay = createConsoleRelay({
    hubId,
    // Rare (a panel subscribing without a local ring): a walk over this hub's agents is fine.
    holds: serverId => app.agents.held().some(h => app.agents.get(h.nodeId)?.owns(serverId) === true),
    // Autocommit, outside any write transaction; one statement in flight, the payloads queued
    // meanwhile go together in the next one, in order (see notify-many.ts).
    notify: async (channel, payload) => { if (await notifier.submit({ channel, payload }) !== 'sent') throw new Error('console relay NOTIFY refused (overloaded or closing)') },
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
  // A deleted server (DELETE /api/servers/:id, on any hub: the auth feed's {serverId}) releases
  // its ring, stats and watchers here. The same notice also means a change of owner, so the
  // server is looked up. A node is deleted only once it has no servers (the foreign key
  // restricts it), so a node deletion has nothing of its own to release. After a redial of the
  // feed, every server held here is checked.
  const forgetGone = async (serverIds: string[]) => {
    if (serverIds.length === 0) return
    const live = await app.repos.servers.refs(serverIds)
    for (const id of serverIds) {
      if (live.has(id)) continue
      // The agent may still send the server's lines until it handles `server.removed`: they are
      // refused (NOT_YOUR_SERVER) rather than filling a new ring.
      for (const h of app.agents.held()) app.agents.get(h.nodeId)?.disown(id)
      hub.forget(id)
      relay.forget(id)
    }
  }
  const unsubscribeAuth = app.authFeed.subscribe({
    onChange: async change => { if ('serverId' in change) await forgetGone([change.serverId]) },
    onReconnect: async () => await forgetGone(hub.known())
  })
  app.addHook('onClose', async () => {
    unsubscribeAuth()
    hub.stop()
    relay.stop()
    await notifier.drain()
    const client = await notifyClient?.catch(() => undefined)
    notifyClient = undefined
    await client?.end().catch(() => {})
    await watchFeed.stop()
    await forwardFeed.stop()
  })
}, { name: 'hub-console', dependencies: ['hub-database', 'hub-events'] })
