// Retention: what the hub keeps, and the scheduled pg-boss jobs that prune the rest.
//
// | prune       | deletes                                                          | setting                          |
// | sessions    | sessions expired or revoked longer ago than the retention        | HUB_SESSION_RETENTION_DAYS       |
// | tickets     | panel tickets expired longer ago (used ones go when consumed)    | HUB_TICKET_RETENTION_S           |
// | events      | events both older than the window and outside the newest count  | HUB_EVENT_RETENTION_MS / _COUNT  |
// | transitions | server status transitions older than the retention              | HUB_TRANSITION_RETENTION_DAYS    |
// | actions     | finished actions (the audit trail) completed longer ago          | HUB_ACTION_RETENTION_DAYS        |
//
// Each prune is its own pg-boss queue with a schedule (HUB_PRUNE_CRON). Every hub declares the
// same schedules and works the same queues: pg-boss's cron check files one job per occurrence
// however many hubs run it, and exactly one worker fetches that job, so with N hubs each prune
// still runs once per period. A prune that fails is not retried (the next period runs it again).
import fp from 'fastify-plugin'
import { pruneEvents } from '../../db/sql/events.ts'
import { pruneFinishedActions, pruneTransitions } from '../../db/sql/retention.ts'
import { pruneTickets } from '../../db/sql/tickets.ts'
import type { Config } from '../config.ts'

export const PRUNES = ['sessions', 'tickets', 'events', 'transitions', 'actions'] as const
export type PruneName = (typeof PRUNES)[number]
export const pruneQueue = (name: PruneName) => `hub-prune-${name}`

declare module 'fastify' {
  interface FastifyInstance {
    retention: Retention
  }
}

export interface Retention {
  /** Runs one prune now, on this hub; returns how many rows went. */
  prune (name: PruneName): Promise<number>
  /** How many scheduled jobs of each prune this hub has run. */
  readonly runs: Readonly<Record<PruneName, number>>
}

const DAY_MS = 86_400_000

export default fp<{ config: Config, now: () => Date }>(async (app, { config, now }) => {
  const pool = app.db.pool
  const ago = (ms: number) => new Date(now().getTime() - ms)
  const prunes: Record<PruneName, () => Promise<number>> = {
    sessions: async () => await app.repos.sessions.prune(ago(config.sessionRetentionDays * DAY_MS)),
    tickets: async () => await pruneTickets(pool, ago(config.ticketRetentionS * 1000)),
    events: async () => await pruneEvents(pool, config.eventRetentionCount, config.eventRetentionMs),
    transitions: async () => await pruneTransitions(pool, ago(config.transitionRetentionDays * DAY_MS)),
    actions: async () => await pruneFinishedActions(pool, ago(config.actionRetentionDays * DAY_MS))
  }
  const runs = Object.fromEntries(PRUNES.map(name => [name, 0])) as Record<PruneName, number>
  const boss = app.queue.boss

  for (const name of PRUNES) {
    const queue = pruneQueue(name)
    // A job that outlives its period is expired by pg-boss; settled jobs go after a day.
    await boss.createQueue(queue, { retryLimit: 0, expireInSeconds: 3_600, retentionSeconds: 3_600, deleteAfterSeconds: 86_400 })
    await boss.schedule(queue, config.pruneCron, null, { tz: 'UTC' })
    await boss.work(queue, { pollingIntervalSeconds: Math.min(2, config.queueCronCheckS) }, async () => {
      const started = performance.now()
      try {
        const removed = await prunes[name]()
        runs[name]++
        app.log.info({ prune: name, removed, ms: Math.round(performance.now() - started) }, 'retention prune done')
      } catch (err) {
        runs[name]++
        app.log.warn({ err, prune: name }, 'retention prune failed; the next period runs it again')
        throw err
      }
    })
  }

  app.decorate('retention', { prune: async (name: PruneName) => await prunes[name](), runs })
}, { name: 'hub-retention', dependencies: ['hub-database', 'hub-queue'] })
