// Durable action writes, group-committed (group-commit.ts): creations, dispatch claims and agent
// replies; and the deadline jobs' work (timeouts). Each transaction writes its rows, settles the pg-boss jobs of the
// actions it made final, and appends one `action.updated` event per move, last. At low load a
// write commits alone; under load many share one transaction, which matters here because every
// event-writing transaction holds the event counter row until it commits.
import type pg from 'pg'
import type { PgBoss } from 'pg-boss'
import type { NewEvent } from '../../db/sql/events.ts'
import {
  cancelLive, endTimedOut, explainSkipped, failUnsupported, insertActions, lockLive, markAcked, markDispatched, markFinished, readActions,
  type ActionRow, type AgentReply, type AgentResult, type NewAction
} from '../../db/sql/actions.ts'
import { inTransaction, type Emit } from '../../db/sql/transaction.ts'
import { createGroupCommit, hexLane, type Refusal } from '../group-commit.ts'
import { ACTION_QUEUE, onClient, type ActionJob } from './jobs.ts'

export type CreateOutcome =
  | { kind: 'created', row: ActionRow }
  /** The idempotency key was used before: the first action; or a KILL coalesced into the live KILL. */
  | { kind: 'repeated', row: ActionRow }
  /** A live START/STOP/RESTART/INSTALL blocks it. */
  | { kind: 'conflict', row: ActionRow }
  /** The node's latest welcome.features lack `feature` (INSTALL: provision, COMMAND: console). */
  | { kind: 'unsupported', feature: string }
  /** A COMMAND on a server that is neither RUNNING nor STARTING. */
  | { kind: 'not-running', status: string }
  | { kind: 'refused', why: Refusal }

export type ReplyOutcome =
  | { kind: 'applied', row: ActionRow }
  /** Duplicate, late (final already) or after expiry: nothing moves; `row` says where it stands. */
  | { kind: 'ignored', row: ActionRow }
  /** Not an action this node was ever sent. */
  | { kind: 'unknown' }
  | { kind: 'refused', why: Refusal }

export type Reply = ({ type: 'ack' } & AgentReply) | ({ type: 'result' } & AgentResult)

export interface ActionStoreOptions {
  pool: pg.Pool
  boss: PgBoss
  deliverMs: number
  ackMs: number
  runMs: number
  /** INSTALL's run timeout (HUB_ACTION_INSTALL_TIMEOUT_MS). */
  installMs: number
  /** COMMAND's delivery timeout (PROTOCOL.md 1.1: 10 s): console input is not worth running late. */
  commandDeliverMs?: number
  lanes?: number
  /** Batch sizes and queue depths of the three writers (hub_write_batch_size, hub_write_queue_depth). */
  meters?: { batch (writer: 'action_create' | 'action_claim' | 'action_reply'): (size: number) => void }
  log: { error (obj: object, msg: string): void }
}

export interface ActionStore {
  create (action: NewAction): Promise<CreateOutcome>
  /** QUEUED → DISPATCHED; null when the action was not QUEUED (claimed elsewhere, final, expired). */
  dispatch (actionId: string): Promise<ActionRow | null>
  reply (reply: Reply): Promise<ReplyOutcome>
  /**
   * The work of fetched deadline jobs (jobs.ts): ends the actions whose current state timed out,
   * and reschedules the job of each that moved on for its next deadline. Returns how many ended.
   */
  deadlines (jobs: ClaimedJob[]): Promise<number>
  drain (): Promise<void>
  /** Items waiting in each writer's lanes. */
  depths (): { action_create: number, action_claim: number, action_reply: number }
  /** Called with rows after their move committed (the dispatcher's local fast path). */
  onCommitted (listener: (rows: ActionRow[]) => void): void
}

/** A job as a pg-boss worker fetched it: the attempt fences what this hub may settle. */
export interface ClaimedJob { id: string, retryCount: number, data: ActionJob }

export const COMMAND_DELIVER_MS = 10_000
/** A live action whose row another transaction holds is looked at again this much later. */
const BUSY_RETRY_MS = 1_000

export function actionEvent (row: ActionRow, at = new Date()): NewEvent {
  const error = row.errorCode === null ? {} : { error: { code: row.errorCode, message: row.errorMessage } }
  return {
    kind: 'action.updated',
    serverId: row.serverId,
    nodeId: row.nodeId,
    data: { actionId: row.id, serverId: row.serverId, nodeId: row.nodeId, action: row.action, state: row.state, ...error },
    at
  }
}

export function createActionStore (options: ActionStoreOptions): ActionStore {
  const { pool, boss, deliverMs, ackMs, runMs, installMs, commandDeliverMs = COMMAND_DELIVER_MS, lanes = 2, meters, log } = options
  const metered = (writer: 'action_create' | 'action_claim' | 'action_reply') => meters === undefined ? {} : { onBatch: meters.batch(writer) }
  const deliverMsOf = (a: NewAction) => a.action === 'COMMAND' ? commandDeliverMs : deliverMs
  const listeners: Array<(rows: ActionRow[]) => void> = []
  const committed = (rows: ActionRow[]) => { if (rows.length > 0) for (const l of listeners) l(rows) }

  /**
   * Settles the pg-boss jobs of actions that just became final, in the caller's transaction:
   * completed (output: the action's final state) when it ended SUCCEEDED, FAILED or EXPIRED,
   * cancelled when CANCELLED. Never `failed`: in pg-boss that means the job's own work failed
   * (retried, then kept as failed), which is what an operator alerts on, not an agent's timeout.
   */
  async function settleJobs (client: pg.PoolClient, rows: ActionRow[]): Promise<void> {
    const db = onClient(client)
    const by = (state: string) => rows.filter(r => r.state === state).map(r => r.id)
    for (const state of ['SUCCEEDED', 'FAILED', 'EXPIRED'] as const) {
      const ids = by(state)
      if (ids.length > 0) await boss.complete(ACTION_QUEUE, ids, { state }, { db, includeQueued: true })
    }
    const cancelled = by('CANCELLED')
    if (cancelled.length > 0) await boss.cancel(ACTION_QUEUE, cancelled, { db })
  }

  /**
   * Settles jobs and hands the events to `emit`: inTransaction appends them in the same message as
   * COMMIT, so the event counter lock is never held across a round trip to this process.
   */
  async function commitMoves (client: pg.PoolClient, emit: Emit, moved: ActionRow[]): Promise<void> {
    await settleJobs(client, moved)
    const at = new Date()
    emit(moved.map(r => actionEvent(r, at)))
  }

  // ---- creation ----
  /** `offered`: what the dispatcher gets after commit (not what a later KILL of the batch cancelled). */
  async function createBatch (client: pg.PoolClient, emit: Emit, items: NewAction[]): Promise<{ outcomes: CreateOutcome[], offered: ActionRow[] }> {
    const outcomes: CreateOutcome[] = new Array(items.length)
    const moves: ActionRow[] = []
    const created: ActionRow[] = []
    const cancelled = new Set<string>()
    // Rounds with at most one action per server, in arrival order: insertActions matches rows to
    // requests by server, and a KILL must only cancel what arrived before it.
    let pending = items.map((item, i) => ({ item, i }))
    while (pending.length > 0) {
      const seen = new Set<string>()
      const round = pending.filter(p => !seen.has(p.item.serverId) && seen.add(p.item.serverId) !== undefined)
      pending = pending.filter(p => !round.includes(p))
      const kills = round.filter(p => p.item.action === 'KILL').map(p => p.item.serverId)
      for (const row of await cancelLive(client, kills, 'superseded by KILL')) {
        cancelled.add(row.id)
        moves.push(row)
      }
      const inserted = await insertActions(client, round.map(p => p.item), round.map(p => deliverMsOf(p.item)), ackMs)
      const skipped = round.filter(p => !inserted.has(p.item.serverId))
      const why = skipped.length === 0 ? new Map() : await explainSkipped(client, skipped.map(p => p.item))
      for (const { item, i } of round) {
        const row = inserted.get(item.serverId)
        if (row !== undefined) {
          outcomes[i] = { kind: 'created', row }
          created.push(row)
          // An action claimed at creation (its node is connected here) passed through QUEUED in
          // this transaction: the log records both moves, in order, so panels and other hubs see
          // the same lifecycle whichever way it was delivered.
          if (row.state === 'DISPATCHED') moves.push({ ...row, state: 'QUEUED' })
          moves.push(row)
          continue
        }
        // Nothing to explain it (a blocker that became final between the INSERT and this read, or
        // the server is gone): refused; the client retries.
        outcomes[i] = why.get(item.serverId) ?? { kind: 'refused', why: 'error' }
      }
    }
    if (created.length > 0) {
      // The deadline job: due when the action's current state times out (jobs.ts).
      const jobs = created.map(r => ({
        id: r.id,
        startAfter: r.deadlineAt ?? r.expiresAt,
        data: { actionId: r.id, serverId: r.serverId, nodeId: r.nodeId, action: r.action, expiresAt: r.expiresAt.toISOString() } satisfies ActionJob
      }))
      await boss.insert(ACTION_QUEUE, jobs, { db: onClient(client) })
    }
    await commitMoves(client, emit, moves)
    return { outcomes, offered: created.filter(r => !cancelled.has(r.id)) }
  }

  const creates = createGroupCommit<NewAction, CreateOutcome>({
    ...metered('action_create'),
    lanes,
    laneOf: a => hexLane(a.serverId),
    commit: async items => {
      const { outcomes, offered } = await inTransaction(pool, async (client, emit) => await createBatch(client, emit, items))
      // The dispatcher sends the DISPATCHED ones now and claims the QUEUED ones whose node is here.
      committed(offered)
      return outcomes
    },
    fail: (why, err) => {
      if (err !== undefined) log.error({ err }, 'action creation failed')
      return { kind: 'refused', why }
    }
  })

  // ---- dispatch claims ----
  const claims = createGroupCommit<string, ActionRow | null>({
    ...metered('action_claim'),
    commit: async ids => {
      const rows = await inTransaction(pool, async (client, emit) => {
        const unique = [...new Set(ids)]
        // Never sent: the node lacks the feature (PROTOCOL.md 1.1); ends FAILED, its job settled.
        const failed = await failUnsupported(client, unique)
        const moved = await markDispatched(client, unique, ackMs)
        await commitMoves(client, emit, [...failed, ...moved])
        return { moved, failed }
      })
      const byId = new Map(rows.moved.map(r => [r.id, r]))
      return ids.map(id => byId.get(id) ?? null)
    },
    fail: (_why, err) => {
      if (err !== undefined) log.error({ err }, 'action dispatch failed; the action stays QUEUED and is retried')
      return null
    }
  })

  // ---- agent replies ----
  // One lane per node (by id): a connection's ack is always written before its result.
  async function replyBatch (client: pg.PoolClient, emit: Emit, replies: Reply[]): Promise<ReplyOutcome[]> {
    // Only the first reply of a kind per action can move it; the rest of the batch are duplicates.
    const first = new Set<string>()
    const isFirst = (r: Reply) => { const k = `${r.type}:${r.commandId}`; return !first.has(k) && first.add(k) !== undefined }
    const firsts = replies.map(isFirst)
    const acks = replies.filter((r, i) => r.type === 'ack' && firsts[i]) as AgentReply[]
    const results = replies.filter((r, i) => r.type === 'result' && firsts[i]) as AgentResult[]
    const acked = acks.length === 0 ? [] : await markAcked(client, acks, runMs, installMs)
    const finished = results.length === 0 ? [] : await markFinished(client, results)
    const moved = new Map([...acked.map(r => [`ack:${r.id}`, r] as const), ...finished.map(r => [`result:${r.id}`, r] as const)])
    const unmoved = replies.filter(r => !moved.has(`${r.type}:${r.commandId}`)).map(r => r.commandId)
    const current = unmoved.length === 0 ? new Map<string, ActionRow>() : await readActions(client, [...new Set(unmoved)])
    await commitMoves(client, emit, [...acked, ...finished])
    return replies.map((r, i) => {
      const row = firsts[i] === true ? moved.get(`${r.type}:${r.commandId}`) : undefined
      if (row !== undefined) return { kind: 'applied', row }
      const now = current.get(r.commandId) ?? moved.get(`ack:${r.commandId}`) ?? moved.get(`result:${r.commandId}`)
      // Never sent to this node: no such action, another node's, or still QUEUED (never dispatched).
      if (now === undefined || now.nodeId !== r.nodeId || now.state === 'QUEUED') return { kind: 'unknown' }
      return { kind: 'ignored', row: now }
    })
  }

  const replies = createGroupCommit<Reply, ReplyOutcome>({
    ...metered('action_reply'),
    lanes,
    laneOf: r => hexLane(r.nodeId),
    commit: async items => {
      const outcomes = await inTransaction(pool, async (client, emit) => await replyBatch(client, emit, items))
      committed(outcomes.flatMap(o => o.kind === 'applied' ? [o.row] : []))
      return outcomes
    },
    fail: (why, err) => {
      if (err !== undefined) log.error({ err }, 'agent reply not recorded')
      return { kind: 'refused', why }
    }
  })

  return {
    create: async action => await creates.submit(action),
    dispatch: async id => await claims.submit(id),
    reply: async reply => await replies.submit(reply),
    async deadlines (jobs) {
      if (jobs.length === 0) return 0
      const rows = await inTransaction(pool, async (client, emit) => {
        const ids = jobs.map(j => j.id)
        const live = await lockLive(client, ids)
        const ended = await endTimedOut(client, live.filter(l => l.locked).map(l => l.id))
        await commitMoves(client, emit, ended)
        // Moved on (acked: a run deadline now), or busy right now: the same job, due again.
        const gone = new Set(ended.map(r => r.id))
        const later = live.filter(l => !gone.has(l.id))
        if (later.length > 0) {
          const db = onClient(client)
          const byId = new Map(jobs.map(j => [j.id, j]))
          const claimed = later.map(l => byId.get(l.id)).filter(j => j !== undefined)
          await boss.deleteJob(ACTION_QUEUE, claimed.map(j => ({ id: j.id, retryCount: j.retryCount })), { db })
          const busyUntil = new Date(Date.now() + BUSY_RETRY_MS)
          await boss.insert(ACTION_QUEUE, later.map(l => ({
            id: l.id,
            startAfter: !l.locked || l.deadlineAt === null ? busyUntil : l.deadlineAt,
            data: byId.get(l.id)?.data
          })), { db })
        }
        return ended
      })
      committed(rows)
      return rows.length
    },
    async drain () {
      await Promise.all([creates.drain(), claims.drain(), replies.drain()])
    },
    depths: () => ({ action_create: creates.depth(), action_claim: claims.depth(), action_reply: replies.depth() }),
    onCommitted (listener) { listeners.push(listener) }
  }
}
