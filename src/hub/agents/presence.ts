// Presence in the database, for every hub sharing it:
//  - connects and disconnects are group-committed on one lane (a storm of 10,000 reconnecting
//    agents costs a few dozen transactions, not 10,000 each queueing on the event counter), in
//    the order they happened, each with its `node.presence` event;
//  - the hub renews the lease (`last_seen_at`) of the nodes it holds every heartbeat;
//  - a sweep, every half heartbeat, marks lost the nodes unseen for the grace (2 × heartbeat):
//    disconnected that long, or held by a hub that died. The first sweep waits one grace after
//    start-up, so a restarted hub (or a whole restarted farm) gives agents time to come back
//    before anything becomes UNKNOWN, like Nomad's failover TTL.
import type pg from 'pg'
import { renewLeases, sweepLostNodes, writePresence, type PresenceChange } from '../../db/sql/presence.ts'
import { inTransaction } from '../../db/sql/transaction.ts'
import { createGroupCommit, type Refusal } from '../group-commit.ts'

export interface Presence {
  /** Records the change; resolves to whether it still applied. */
  write (change: Omit<PresenceChange, 'at'>): Promise<boolean>
  /** Starts lease renewal for `held()` and the lost-node sweep. */
  start (held: () => Array<{ nodeId: string, connectionId: string }>): void
  /** Stops the timers and waits for queued writes. */
  stop (): Promise<void>
}

export interface PresenceOptions {
  pool: pg.Pool
  heartbeatMs: number
  log: { warn (obj: object, msg: string): void }
  now?: () => Date
}

type Outcome = { ok: true, applied: boolean } | { ok: false, err: Error }

export function createPresence (options: PresenceOptions): Presence {
  const { pool, heartbeatMs, log, now = () => new Date() } = options
  const graceMs = 2 * heartbeatMs
  const writer = createGroupCommit<PresenceChange, Outcome>({
    commit: async changes => {
      const applied = await inTransaction(pool, async (client, emit) => await writePresence(client, emit, changes))
      return applied.map(ok => ({ ok: true, applied: ok }))
    },
    fail: (why: Refusal, err) => ({ ok: false, err: err instanceof Error ? err : new Error(`presence not written: ${why}`) })
  })
  const timers: NodeJS.Timeout[] = []
  let busy: Promise<unknown> = Promise.resolve()
  // One maintenance task at a time: a slow database must not pile up renewals and sweeps.
  const task = (name: string, work: () => Promise<unknown>) => () => {
    busy = busy.then(work).catch(err => log.warn({ err }, `presence ${name} failed; retrying next time`))
  }

  return {
    async write (change) {
      const outcome = await writer.submit({ ...change, at: now() })
      if (!outcome.ok) throw outcome.err
      return outcome.applied
    },
    start (held) {
      timers.push(setInterval(task('lease renewal', async () => { await renewLeases(pool, held()) }), heartbeatMs))
      const sweep = task('sweep', async () => await inTransaction(pool, async (client, emit) => await sweepLostNodes(client, emit, graceMs)))
      timers.push(setTimeout(() => {
        sweep()
        timers.push(setInterval(sweep, Math.max(50, Math.floor(heartbeatMs / 2))))
      }, graceMs))
    },
    async stop () {
      for (const timer of timers) clearTimeout(timer)
      await writer.drain()
      await busy
    }
  }
}
