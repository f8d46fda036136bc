// Power actions: the durable store (group-committed writes with their pg-boss jobs and events),
// the dispatcher (delivery to the node's session, on this hub or heard of through the event feed),
// and the timeout sweep. Registered before the agent gateway, which hands it command replies,
// ready sessions and the lookup of sessions (`bindSessions`): the dependency runs one way, the
// gateway on this plugin, never back. Its onClose (after the gateway closed every agent) drains
// pending writes.
import fp from 'fastify-plugin'
import { pendingForNodes } from '../../db/sql/actions.ts'
import { createBatchedLookup } from '../group-commit.ts'
import { createActionStore, type ActionStore } from '../actions/action-store.ts'
import { createDispatcher, type CommandTarget, type Dispatcher } from '../actions/dispatcher.ts'
import type { Bus } from '../bus.ts'
import type { Config } from '../config.ts'

declare module 'fastify' {
  interface FastifyInstance {
    actions: {
      store: ActionStore
      dispatcher: Dispatcher
      /** The agent gateway tells where a node's session is (none until it does). */
      bindSessions (lookup: (nodeId: string) => CommandTarget | undefined): void
    }
  }
}

export default fp<{ config: Config, bus: Bus }>(async (app, { config, bus }) => {
  const store = createActionStore({
    pool: app.db.pool,
    boss: app.queue.boss,
    deliverMs: config.actionDeliverTimeoutMs,
    ackMs: config.actionAckTimeoutMs,
    runMs: config.actionRunTimeoutMs,
    // Every write transaction here appends events, and event writers queue on the event counter
    // row until they commit: two lanes per kind let one transaction prepare while another holds
    // it; more lanes only lengthen that queue (4 lanes measured 10-15% fewer actions/s than 2 in
    // bench/command-throughput.ts, 1 lane about 20% fewer).
    lanes: Math.min(2, config.dbPoolMax),
    log: app.log
  })
  // Every agent that says hello asks for its pending commands: after a hub restart that is
  // thousands at once, so the lookups share queries (one in flight, the rest gather behind it).
  const pending = createBatchedLookup(async nodeIds => await pendingForNodes(app.db.pool, nodeIds))
  let sessions: (nodeId: string) => CommandTarget | undefined = () => undefined
  const dispatcher = createDispatcher({
    store,
    session: nodeId => sessions(nodeId),
    pending: async nodeId => await pending(nodeId) ?? [],
    log: app.log
  })
  store.onCommitted(rows => dispatcher.offer(rows))
  const unsubscribe = bus.subscribe(events => dispatcher.onEvents(events))
  app.decorate('actions', { store, dispatcher, bindSessions: lookup => { sessions = lookup } })

  // Every hub sweeps; SKIP LOCKED keeps them apart. One sweep at a time per hub.
  let sweeping: Promise<void> | undefined
  const sweeper = setInterval(() => {
    sweeping ??= store.sweep()
      .then(n => { if (n > 0) app.log.info({ ended: n }, 'timed-out actions ended') })
      .catch(err => app.log.warn({ err }, 'action sweep failed; retrying on the next tick'))
      .finally(() => { sweeping = undefined })
  }, config.actionSweepMs)
  sweeper.unref()

  app.addHook('onClose', async () => {
    clearInterval(sweeper)
    unsubscribe()
    await sweeping
    await store.drain()
  })
}, { name: 'hub-actions', dependencies: ['hub-database', 'hub-queue', 'hub-events'] })
