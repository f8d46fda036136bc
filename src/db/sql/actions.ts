// Power actions in raw SQL: batched inserts and guarded state moves. Every move names the states it
// may leave (`WHERE state IN (...)`), so an action never goes backwards nor leaves a final state,
// whatever order acks, results, sweeps and hubs arrive in. Callers write the matching events in the
// same transaction (inTransaction's emit: appended with the COMMIT).
import type pg from 'pg'

export const ACTION_TYPES = ['START', 'STOP', 'RESTART', 'KILL'] as const
export type ActionType = typeof ACTION_TYPES[number]
export const ACTION_STATES = ['QUEUED', 'DISPATCHED', 'ACKED', 'SUCCEEDED', 'FAILED', 'EXPIRED', 'CANCELLED'] as const
export type ActionState = typeof ACTION_STATES[number]
export const FINAL_STATES: ReadonlySet<ActionState> = new Set(['SUCCEEDED', 'FAILED', 'EXPIRED', 'CANCELLED'])

/** An action as the lifecycle needs it: enough for a `command` frame and an `action.updated` event. */
export interface ActionRow {
  id: string
  serverId: string
  nodeId: string
  action: ActionType
  state: ActionState
  timestamp: Date
  expiresAt: Date
  errorCode: string | null
  errorMessage: string | null
}

interface Raw { id: string, server_id: string, node_id: string, action: ActionType, state: ActionState, timestamp: Date, expires_at: Date, error_code: string | null, error_message: string | null }
const toRow = (r: Raw): ActionRow => ({
  id: r.id, serverId: r.server_id, nodeId: r.node_id, action: r.action, state: r.state, timestamp: r.timestamp, expiresAt: r.expires_at, errorCode: r.error_code, errorMessage: r.error_message
})
const COLUMNS = 'a.id, a.server_id, s.node_id, a.action, a.state, a.timestamp, a.expires_at, a.error_code, a.error_message'
const LIVE = "('QUEUED', 'DISPATCHED', 'ACKED')"

export interface NewAction {
  serverId: string
  userId: string | null
  action: ActionType
  idempotencyKey: string | null
  /**
   * The node this hub holds a ready connection to, if it holds the server's node: the action is
   * then claimed (DISPATCHED) in its creating transaction and sent right after commit. Compared
   * with the server's node inside the statement, so a server moved to another node meanwhile
   * stays QUEUED.
   */
  dispatchTo?: string | null
}

/**
 * Inserts actions, at most one per server (the caller splits batches so): a row that would break
 * a unique index (a repeated idempotency key, or a second live START/STOP/RESTART on the server)
 * is skipped, not an error, so one refused action does not fail the others. Waits for concurrent
 * inserts of conflicting rows to commit or roll back, so the database arbitrates between hubs.
 * An action whose `dispatchTo` is its server's node is inserted DISPATCHED (the claim, with the
 * ack timeout), the others QUEUED (with the delivery timeout); `expires_at` is the delivery
 * deadline either way.
 */
export async function insertActions (client: pg.PoolClient, actions: NewAction[], deliverMs: number, ackMs: number): Promise<Map<string, ActionRow>> {
  const { rows } = await client.query<Raw>({
    name: 'actions_insert',
    text: `WITH ins AS (
             INSERT INTO server_actions (server_id, user_id, action, idempotency_key, state, dispatched_at, expires_at, deadline_at, updated_at)
             SELECT v.server_id, v.user_id, v.action, v.key,
                    CASE WHEN s.node_id = v.dispatch_to THEN 'DISPATCHED' ELSE 'QUEUED' END::"ActionState",
                    CASE WHEN s.node_id = v.dispatch_to THEN now() END,
                    now() + make_interval(secs => $6::double precision / 1000),
                    now() + make_interval(secs => CASE WHEN s.node_id = v.dispatch_to THEN $7 ELSE $6 END::double precision / 1000),
                    now()
             FROM unnest($1::uuid[], $2::uuid[], $3::"ActionType"[], $4::text[], $5::uuid[]) AS v(server_id, user_id, action, key, dispatch_to)
             JOIN servers s ON s.id = v.server_id
             ON CONFLICT DO NOTHING
             RETURNING *
           )
           SELECT ${COLUMNS} FROM ins a JOIN servers s ON s.id = a.server_id`,
    values: [
      actions.map(a => a.serverId), actions.map(a => a.userId), actions.map(a => a.action), actions.map(a => a.idempotencyKey),
      actions.map(a => a.dispatchTo ?? null), deliverMs, ackMs
    ]
  })
  return new Map(rows.map(r => [r.server_id, toRow(r)]))
}

/**
 * For actions that insertActions skipped: the earlier action with the same key, else the live one
 * that blocks (for a KILL, the live KILL it coalesces into; for the others, the live power action).
 */
export async function findBlocking (client: pg.PoolClient, skipped: NewAction[]): Promise<Map<string, { row: ActionRow, repeated: boolean }>> {
  const { rows } = await client.query<Raw & { repeated: boolean }>({
    name: 'actions_find_blocking',
    text: `SELECT DISTINCT ON (a.server_id) ${COLUMNS}, (a.idempotency_key IS NOT DISTINCT FROM v.key AND v.key IS NOT NULL) AS repeated
           FROM unnest($1::uuid[], $2::text[], $3::"ActionType"[]) AS v(server_id, key, action)
           JOIN server_actions a ON a.server_id = v.server_id
             AND ((v.key IS NOT NULL AND a.idempotency_key = v.key) OR (a.state IN ${LIVE} AND (a.action = 'KILL') = (v.action = 'KILL')))
           JOIN servers s ON s.id = a.server_id
           ORDER BY a.server_id, repeated DESC`,
    values: [skipped.map(a => a.serverId), skipped.map(a => a.idempotencyKey), skipped.map(a => a.action)]
  })
  return new Map(rows.map(r => [r.server_id, { row: toRow(r), repeated: r.repeated }]))
}

/** KILL supersedes: the live START/STOP/RESTART of these servers become CANCELLED. */
export async function cancelLive (client: pg.PoolClient, serverIds: string[], reason: string): Promise<ActionRow[]> {
  if (serverIds.length === 0) return []
  const { rows } = await client.query<Raw>({
    name: 'actions_cancel_live',
    text: `UPDATE server_actions a SET state = 'CANCELLED', completed_at = now(), deadline_at = NULL, updated_at = now(),
             error_code = 'SUPERSEDED', error_message = $2
           FROM servers s
           WHERE s.id = a.server_id AND a.server_id = ANY($1::uuid[]) AND a.action <> 'KILL' AND a.state IN ${LIVE}
           RETURNING ${COLUMNS}`,
    values: [serverIds, reason]
  })
  return rows.map(toRow)
}

/** QUEUED → DISPATCHED for those still deliverable; the ack timeout starts. Returns the moved ones. */
export async function markDispatched (client: pg.PoolClient, ids: string[], ackMs: number): Promise<ActionRow[]> {
  const { rows } = await client.query<Raw>({
    name: 'actions_dispatch',
    text: `UPDATE server_actions a SET state = 'DISPATCHED', dispatched_at = now(), updated_at = now(),
             deadline_at = now() + make_interval(secs => $2::double precision / 1000)
           FROM servers s
           WHERE s.id = a.server_id AND a.id = ANY($1::uuid[]) AND a.state = 'QUEUED' AND a.expires_at > now()
           RETURNING ${COLUMNS}`,
    values: [ids, ackMs]
  })
  return rows.map(toRow)
}

export interface AgentReply { commandId: string, nodeId: string }
export interface AgentResult extends AgentReply { ok: boolean, code: string | null, message: string | null }

/** DISPATCHED → ACKED, only for the node that holds the action; the run timeout starts. */
export async function markAcked (client: pg.PoolClient, acks: AgentReply[], runMs: number): Promise<ActionRow[]> {
  const { rows } = await client.query<Raw>({
    name: 'actions_ack',
    text: `UPDATE server_actions a SET state = 'ACKED', acked_at = now(), updated_at = now(),
             deadline_at = now() + make_interval(secs => $3::double precision / 1000)
           FROM servers s, unnest($1::uuid[], $2::uuid[]) AS v(id, node_id)
           WHERE a.id = v.id AND s.id = a.server_id AND s.node_id = v.node_id AND a.state = 'DISPATCHED'
           RETURNING ${COLUMNS}`,
    values: [acks.map(a => a.commandId), acks.map(a => a.nodeId), runMs]
  })
  return rows.map(toRow)
}

/**
 * DISPATCHED or ACKED → SUCCEEDED | FAILED, only for the node that holds the action. A result
 * without an ack (the ack was lost) still moves forward. One result per action per call.
 */
export async function markFinished (client: pg.PoolClient, results: AgentResult[]): Promise<ActionRow[]> {
  const { rows } = await client.query<Raw>({
    name: 'actions_finish',
    text: `UPDATE server_actions a SET state = CASE WHEN v.ok THEN 'SUCCEEDED' ELSE 'FAILED' END::"ActionState",
             completed_at = now(), deadline_at = NULL, updated_at = now(), error_code = v.code, error_message = v.message
           FROM servers s, unnest($1::uuid[], $2::uuid[], $3::boolean[], $4::text[], $5::text[]) AS v(id, node_id, ok, code, message)
           WHERE a.id = v.id AND s.id = a.server_id AND s.node_id = v.node_id AND a.state IN ('DISPATCHED', 'ACKED')
           RETURNING ${COLUMNS}`,
    values: [results.map(r => r.commandId), results.map(r => r.nodeId), results.map(r => r.ok), results.map(r => r.code), results.map(r => r.message)]
  })
  return rows.map(toRow)
}

/** The current state and node of these actions (to explain a reply that moved nothing). */
export async function readActions (client: pg.PoolClient, ids: string[]): Promise<Map<string, ActionRow>> {
  const { rows } = await client.query<Raw>({
    name: 'actions_read',
    text: `SELECT ${COLUMNS} FROM server_actions a JOIN servers s ON s.id = a.server_id WHERE a.id = ANY($1::uuid[])`,
    values: [ids]
  })
  return new Map(rows.map(r => [r.id, toRow(r)]))
}

/**
 * Every live action whose current state timed out: QUEUED → EXPIRED (DELIVERY_TIMEOUT),
 * DISPATCHED → EXPIRED (ACK_TIMEOUT), ACKED → FAILED (RUN_TIMEOUT). SKIP LOCKED: hubs sweeping
 * at once take disjoint rows, and a row being acked right now is left for the next sweep.
 */
export async function sweepTimedOut (client: pg.PoolClient, limit: number): Promise<ActionRow[]> {
  const { rows } = await client.query<Raw>({
    name: 'actions_sweep',
    text: `WITH due AS (
             SELECT id, state FROM server_actions
             WHERE state IN ${LIVE} AND deadline_at <= now()
             ORDER BY deadline_at LIMIT $1 FOR UPDATE SKIP LOCKED
           )
           UPDATE server_actions a SET
             state = CASE due.state WHEN 'ACKED' THEN 'FAILED' ELSE 'EXPIRED' END::"ActionState",
             error_code = CASE due.state WHEN 'QUEUED' THEN 'DELIVERY_TIMEOUT' WHEN 'DISPATCHED' THEN 'ACK_TIMEOUT' ELSE 'RUN_TIMEOUT' END,
             error_message = CASE due.state
               WHEN 'QUEUED' THEN 'not delivered to the agent before expiresAt'
               WHEN 'DISPATCHED' THEN 'the agent did not acknowledge the command in time'
               ELSE 'the agent did not report a result in time' END,
             completed_at = now(), deadline_at = NULL, updated_at = now()
           FROM due, servers s
           WHERE a.id = due.id AND s.id = a.server_id
           RETURNING ${COLUMNS}`,
    values: [limit]
  })
  return rows.map(toRow)
}

/**
 * What a node should get now, oldest first: QUEUED and not expired; DISPATCHED within the ack
 * timeout (it may never have arrived); ACKED within the run timeout (its result may have gone to a
 * connection or hub that died: an agent that already finished it answers the redelivery with the
 * result again, one that is still running it ignores it).
 */
export async function pendingForNodes (pool: pg.Pool, nodeIds: readonly string[]): Promise<Map<string, ActionRow[]>> {
  const { rows } = await pool.query<Raw>({
    name: 'actions_pending_for_nodes',
    text: `SELECT ${COLUMNS} FROM server_actions a JOIN servers s ON s.id = a.server_id
           WHERE s.node_id = ANY($1::uuid[]) AND a.state IN ${LIVE} AND a.deadline_at > now()
           ORDER BY a.timestamp, a.id`,
    values: [nodeIds]
  })
  const byNode = new Map<string, ActionRow[]>()
  for (const row of rows.map(toRow)) {
    const list = byNode.get(row.nodeId)
    if (list === undefined) byNode.set(row.nodeId, [row])
    else list.push(row)
  }
  return byNode
}
