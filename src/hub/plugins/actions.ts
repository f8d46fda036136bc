// Power actions: the durable store (group-committed writes with their pg-boss jobs and events),
// the dispatcher (delivery to the node's session, on this hub or heard of through the event feed),
// and the worker of the actions' deadline jobs (timeouts: every hub works the queue). Registered
// before the agent gateway, which hands it command replies,
// ready sessions and the lookup of sessions (`bindSessions`): the dependency runs one way, the
// gateway on this plugin, never back. Its onClose (after the gateway closed every agent) drains
// pending writes.
import fp from 'fastify-plugin'
import { pendingForNodes } from '../../db/sql/actions.ts'
import { createBatchedLookup } from '../group-commit.ts'
import { budgetsOf, createActionLimits, type ActionLimits } from '../action-limits.ts'
import { createActionStore, type ActionStore } from '../actions/action-store.ts'
import { createDispatcher, type CommandTarget, type Dispatcher } from '../actions/dispatcher.ts'
import type { Bus } from '../bus.ts'
import type { Config } from '../config.ts'
import { ACTION_QUEUE, DEADLINE_BATCH, DEADLINE_POLL_S, type ActionJob } from '../actions/jobs.ts'

declare module 'fastify' {
  interface FastifyInstance {
    actions: {
      store: ActionStore
      dispatcher: Dispatcher
      /** The per-user and per-server action budgets, one set per hub for REST and console.send. */
      limits: ActionLimits
      /** The agent gateway tells where a node's session is (none until it does). */
      bindSessions (lookup: (nodeId: string) => CommandTarget | undefined): void
    }
  }
}

export default fp<{ config: Config, bus: Bus, now?: () => number }>(async (app, { config, bus, now = Date.now }) => {
  const store = createActionStore({
    pool: app.db.pool,
    boss: app.queue.boss,
    deliverMs: config.actionDeliverTimeoutMs,
    ackMs: config.actionAckTimeoutMs,
    runMs: config.actionRunTimeoutMs,
    installMs: config.actionInstallTimeoutMs,
    // Every write transaction here appends events, and event writers queue on the event counter
    // row until they commit: two lanes per kind let one transaction prepare while another holds
    // it; more lanes only lengthen that queue (4 lanes measured 10-15% fewer actions/s than 2 in
    // bench/command-throughput.ts, 1 lane about 20% fewer).
    lanes: Math.min(2, config.dbPoolMax),
    ...(app.hasDecorator('meters') ? { meters: app.meters } : {}),
    log: app.log
  })
  if (app.hasDecorator('meters')) for (const writer of ['action_create', 'action_claim', 'action_reply'] as const) app.meters.depth(writer, () => store.depths()[writer])
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
  app.decorate('actions', { store, dispatcher, limits: createActionLimits(budgetsOf(config), now), bindSessions: lookup => { sessions = lookup } })

  // Every hub works the deadline jobs; pg-boss hands each due job to one of them.
  await app.queue.boss.work<ActionJob>(ACTION_QUEUE, { batchSize: DEADLINE_BATCH, pollingIntervalSeconds: DEADLINE_POLL_S }, async jobs => {
    const ended = await store.deadlines(jobs)
    if (ended > 0) app.log.info({ ended }, 'timed-out actions ended')
  })

  app.addHook('onClose', async () => {
    unsubscribe()
    // Fetch no more deadline jobs; a batch being worked finishes (pg-boss's stop waits for it).
    await app.queue.boss.offWork(ACTION_QUEUE, { wait: true })
    await store.drain()
  })
}, { name: 'hub-actions', dependencies: ['hub-database', 'hub-queue', 'hub-events'] })
