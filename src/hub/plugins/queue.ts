// pg-boss: started after migrations (buildHub runs on a migrated database) in its own schema,
// supervised (its `error` and `warning` events are logged; its statements go through the hub's
// pool, which redials after a PostgreSQL restart), and stopped after the agents are closed (avvio
// runs onClose hooks in reverse registration order, and this plugin is registered before them).
import fp from 'fastify-plugin'
import { PgBoss } from 'pg-boss'
import { ACTION_QUEUE, ACTION_QUEUE_OPTIONS, onClient } from '../actions/jobs.ts'
import type { Config } from '../config.ts'

declare module 'fastify' {
  interface FastifyInstance {
    queue: Queue
  }
}

export interface Queue {
  readonly boss: PgBoss
  /** True while pg-boss runs and its schema answers. Never throws. */
  ready (): Promise<boolean>
}

export default fp<{ config: Config }>(async (app, { config }) => {
  const schema = config.queueSchema
  const boss = new PgBoss({
    db: onClient(app.db.pool),
    schema,
    // Schedules: the retention prunes (plugins/retention.ts). pg-boss files one job per occurrence
    // whichever hubs run the cron check, and one worker takes it, so each prune runs once per period.
    schedule: true,
    cronMonitorIntervalSeconds: config.queueCronCheckS,
    cronWorkerIntervalSeconds: Math.min(5, config.queueCronCheckS),
    supervise: true
  })
  boss.on('error', err => app.log.error({ err }, 'queue error (pg-boss); it keeps retrying'))
  boss.on('warning', warning => app.log.warn({ warning }, 'queue warning (pg-boss)'))
  await boss.start()
  // The deadline jobs (actions/jobs.ts). Retried when their work fails, or when the hub that
  // fetched one died before settling it (pg-boss expires the claim after expireInSeconds); a job
  // still failed after the retries is what `hub_queue_jobs{state="failed"}` alerts on.
  // retention: a job outlives every action timeout by far; settled jobs go after a day.
  // updateQueue too: createQueue leaves the options of a queue an older hub created as they were.
  await boss.createQueue(ACTION_QUEUE, ACTION_QUEUE_OPTIONS)
  const { retryDelayMax: _fixedAtCreation, ...updatable } = ACTION_QUEUE_OPTIONS
  await boss.updateQueue(ACTION_QUEUE, updatable)
  let stopped = false

  app.decorate('queue', {
    boss,
    async ready () {
      if (stopped) return false
      try {
        await app.db.pool.query({ text: `SELECT 1 FROM ${schema}.version` })
        return true
      } catch {
        return false
      }
    }
  })
  app.addHook('onClose', async () => {
    stopped = true
    await boss.stop({ graceful: true, close: false, timeout: Math.max(1_000, config.shutdownTimeoutMs - 1_000) })
  })
}, { name: 'hub-queue', dependencies: ['hub-database'] })
