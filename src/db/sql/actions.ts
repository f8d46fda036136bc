// Power actions in raw SQL: batched inserts and guarded state moves. Every move names the states it
// may leave (`WHERE state IN (...)`), so an action never goes backwards nor leaves a final state,
// whatever order acks, results, sweeps and hubs arrive in. Callers write the matching events in the
// same transaction (inTransaction's emit: appended with the COMMIT).
import type pg from 'pg'

export const ACTION_TYPES = ['START', 'STOP', 'RESTART', 'INSTALL', 'KILL', 'COMMAND'] as const
export type ActionType = typeof ACTION_TYPES[number]
/**
 * The actions serialised per server (at most one live, by the partial unique index of the
 * live_power_index migration) and superseded by KILL. COMMAND is neither (PROTOCOL.md 1.1).
 */
export const SERIALISED_ACTIONS = ['START', 'STOP', 'RESTART', 'INSTALL'] as const satisfies readonly ActionType[]
const SERIALISED = "('START', 'STOP', 'RESTART', 'INSTALL')"
/** The feature a node must have negotiated (its latest welcome.features) to be sent the action. */
export const REQUIRED_FEATURE: Partial<Record<ActionType, string>> = { INSTALL: 'provision', COMMAND: 'console' }
/** True when node `n` (alias) lacks the feature action `a` (alias) needs; kept in line with REQUIRED_FEATURE. */
const LACKS_FEATURE = (a: string, n: string) =>
  `((${a}.action = 'COMMAND' AND NOT ('console' = ANY(${n}.features))) OR (${a}.action = 'INSTALL' AND NOT ('provision' = ANY(${n}.features))))`
/** The server statuses in which a COMMAND is accepted. */
export const COMMAND_STATUSES = ['RUNNING', 'STARTING'] as const
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
  /** When the current state times out (delivery, ack or run); null once final. */
  deadlineAt: Date | null
  errorCode: string | null
  errorMessage: string | null
  /** A COMMAND's console input (`details.input`); null for the other types. */
  input: string | null
}

interface Raw { id: string, server_id: string, node_id: string, action: ActionType, state: ActionState, timestamp: Date, expires_at: Date, deadline_at: Date | null, error_code: string | null, error_message: string | null, input: string | null }
const toRow = (r: Raw): ActionRow => ({
  id: r.id, serverId: r.server_id, nodeId: r.node_id, action: r.action, state: r.state, timestamp: r.timestamp, expiresAt: r.expires_at, deadlineAt: r.deadline_at, errorCode: r.error_code, errorMessage: r.error_message, input: r.input ?? null
})
const COLUMNS = "a.id, a.server_id, s.node_id, a.action, a.state, a.timestamp, a.expires_at, a.deadline_at, a.error_code, a.error_message, a.details->>'input' AS input"
const LIVE = "('QUEUED', 'DISPATCHED', 'ACKED')"

export interface NewAction {
  serverId: string
  userId: string | null
  action: ActionType
  idempotencyKey: string | null
  /** COMMAND only: the console input, stored as `details.input`. */
  input?: string | null
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
 * a unique index (a repeated idempotency key, or a second live START/STOP/RESTART/INSTALL on the
 * server) is skipped, not an error, so one refused action does not fail the others. Waits for
 * concurrent inserts of conflicting rows to commit or roll back, so the database arbitrates
 * between hubs. Also skipped, checked in the same statement: an action whose node lacks its
 * feature (REQUIRED_FEATURE), and a COMMAND on a server that is not RUNNING or STARTING;
 * explainSkipped says which. An action whose `dispatchTo` is its server's node is inserted
 * DISPATCHED (the claim, with the ack timeout), the others QUEUED (with their delivery timeout,
 * `deliverMs` per action); `expires_at` is the delivery deadline either way.
 */
export async function insertActions (client: pg.PoolClient, actions: NewAction[], deliverMs: number[], ackMs: number): Promise<Map<string, ActionRow>> {
  const { rows } = await client.query<Raw>({
    name: 'actions_insert',
    text: `WITH ins AS (
             INSERT INTO server_actions (server_id, user_id, action, idempotency_key, details, state, dispatched_at, expires_at, deadline_at, updated_at)
             SELECT v.server_id, v.user_id, v.action, v.key,
                    CASE WHEN v.input IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('input', v.input) END,
                    CASE WHEN s.node_id = v.dispatch_to THEN 'DISPATCHED' ELSE 'QUEUED' END::"ActionState",
                    CASE WHEN s.node_id = v.dispatch_to THEN now() END,
                    now() + make_interval(secs => v.deliver_ms / 1000),
                    now() + make_interval(secs => CASE WHEN s.node_id = v.dispatch_to THEN $8 ELSE v.deliver_ms END::double precision / 1000),
                    now()
             FROM unnest($1::uuid[], $2::uuid[], $3::"ActionType"[], $4::text[], $5::uuid[], $6::text[], $7::double precision[])
                    AS v(server_id, user_id, action, key, dispatch_to, input, deliver_ms)
             JOIN servers s ON s.id = v.server_id
             JOIN nodes n ON n.id = s.node_id
             WHERE NOT ${LACKS_FEATURE('v', 'n')}
               AND (v.action <> 'COMMAND' OR s.status IN ('RUNNING', 'STARTING'))
             ON CONFLICT DO NOTHING
             RETURNING *
           )
           SELECT ${COLUMNS} FROM ins a JOIN servers s ON s.id = a.server_id`,
    values: [
      actions.map(a => a.serverId), actions.map(a => a.userId), actions.map(a => a.action), actions.map(a => a.idempotencyKey),
      actions.map(a => a.dispatchTo ?? null), actions.map(a => a.input ?? null), deliverMs, ackMs
    ]
  })
  return new Map(rows.map(r => [r.server_id, toRow(r)]))
}

/** Why insertActions skipped an action. */
export type Skipped =
  /** The idempotency key was used before: the first action. */
  | { kind: 'repeated', row: ActionRow }
  /** The node's latest welcome.features lack what the action needs. */
  | { kind: 'unsupported', feature: string }
  /** A COMMAND on a server that is not RUNNING or STARTING. */
  | { kind: 'not-running', status: string }
  /** A live START/STOP/RESTART/INSTALL blocks it. */
  | { kind: 'conflict', row: ActionRow }

/**
 * For actions that insertActions skipped, in the order a client is told: a repeated key, then
 * the gates (feature, then the server's status), then the live action that blocks. Missing: the
 * server is gone, or the blocker became final between the INSERT and this read.
 */
export async function explainSkipped (client: pg.PoolClient, skipped: NewAction[]): Promise<Map<string, Skipped>> {
  const { rows } = await client.query<Raw & { repeated: boolean, v_server_id: string, v_action: ActionType, status: string, features: string[] }>({
    name: 'actions_explain_skipped',
    text: `SELECT DISTINCT ON (v.server_id) v.server_id AS v_server_id, v.action AS v_action, sv.status, nv.features,
                  ${COLUMNS}, (a.idempotency_key IS NOT DISTINCT FROM v.key AND v.key IS NOT NULL) AS repeated
           FROM unnest($1::uuid[], $2::text[], $3::"ActionType"[]) AS v(server_id, key, action)
           JOIN servers sv ON sv.id = v.server_id
           JOIN nodes nv ON nv.id = sv.node_id
           LEFT JOIN server_actions a ON a.server_id = v.server_id
             AND ((v.key IS NOT NULL AND a.idempotency_key = v.key)
               OR (v.action IN ${SERIALISED} AND a.action IN ${SERIALISED} AND a.state IN ${LIVE})
               OR (v.action = 'KILL' AND a.action = 'KILL' AND a.state IN ${LIVE}))
           LEFT JOIN servers s ON s.id = a.server_id
           ORDER BY v.server_id, repeated DESC NULLS LAST`,
    values: [skipped.map(a => a.serverId), skipped.map(a => a.idempotencyKey), skipped.map(a => a.action)]
  })
  const out = new Map<string, Skipped>()
  for (const r of rows) {
    const feature = REQUIRED_FEATURE[r.v_action]
    // A KILL while another KILL is live coalesces into it: answered as the live one, like a repeat.
    if (r.id !== null && (r.repeated || (r.v_action === 'KILL' && r.action === 'KILL'))) out.set(r.v_server_id, { kind: 'repeated', row: toRow(r) })
    else if (feature !== undefined && !r.features.includes(feature)) out.set(r.v_server_id, { kind: 'unsupported', feature })
    else if (r.v_action === 'COMMAND' && !(COMMAND_STATUSES as readonly string[]).includes(r.status)) out.set(r.v_server_id, { kind: 'not-running', status: r.status })
    else if (r.id !== null) out.set(r.v_server_id, { kind: 'conflict', row: toRow(r) })
  }
  return out
}

/** KILL supersedes: the live START/STOP/RESTART/INSTALL of these servers become CANCELLED (never a COMMAND). */
export async function cancelLive (client: pg.PoolClient, serverIds: string[], reason: string): Promise<ActionRow[]> {
  if (serverIds.length === 0) return []
  const { rows } = await client.query<Raw>({
    name: 'actions_cancel_live',
    text: `UPDATE server_actions a SET state = 'CANCELLED', completed_at = now(), deadline_at = NULL, updated_at = now(),
             error_code = 'SUPERSEDED', error_message = $2
           FROM servers s
           WHERE s.id = a.server_id AND a.server_id = ANY($1::uuid[]) AND a.action IN ${SERIALISED} AND a.state IN ${LIVE}
           RETURNING ${COLUMNS}`,
    values: [serverIds, reason]
  })
  return rows.map(toRow)
}

/**
 * QUEUED → DISPATCHED for those still deliverable whose node has the feature they need; the ack
 * timeout starts. Returns the moved ones. Run failUnsupported first, in the same transaction.
 */
export async function markDispatched (client: pg.PoolClient, ids: string[], ackMs: number): Promise<ActionRow[]> {
  const { rows } = await client.query<Raw>({
    name: 'actions_dispatch',
    text: `UPDATE server_actions a SET state = 'DISPATCHED', dispatched_at = now(), updated_at = now(),
             deadline_at = now() + make_interval(secs => $2::double precision / 1000)
           FROM servers s, nodes n
           WHERE s.id = a.server_id AND n.id = s.node_id AND a.id = ANY($1::uuid[]) AND a.state = 'QUEUED' AND a.expires_at > now()
             AND NOT ${LACKS_FEATURE('a', 'n')}
           RETURNING ${COLUMNS}`,
    values: [ids, ackMs]
  })
  return rows.map(toRow)
}

/**
 * QUEUED → FAILED (FEATURE_UNSUPPORTED), never sent, for those whose node's latest features lack
 * what they need (PROTOCOL.md 1.1): queued while a node that negotiated the feature was away, and
 * the node came back without it.
 */
export async function failUnsupported (client: pg.PoolClient, ids: string[]): Promise<ActionRow[]> {
  const { rows } = await client.query<Raw>({
    name: 'actions_fail_unsupported',
    text: `UPDATE server_actions a SET state = 'FAILED', error_code = 'FEATURE_UNSUPPORTED',
             error_message = 'the node did not negotiate the feature this action needs',
             completed_at = now(), deadline_at = NULL, updated_at = now()
           FROM servers s, nodes n
           WHERE s.id = a.server_id AND n.id = s.node_id AND a.id = ANY($1::uuid[]) AND a.state = 'QUEUED'
             AND ${LACKS_FEATURE('a', 'n')}
           RETURNING ${COLUMNS}`,
    values: [ids]
  })
  return rows.map(toRow)
}

export interface AgentReply { commandId: string, nodeId: string }
export interface AgentResult extends AgentReply { ok: boolean, code: string | null, message: string | null }

/** DISPATCHED → ACKED, only for the node that holds the action; the run timeout starts (INSTALL's own: `installMs`). */
export async function markAcked (client: pg.PoolClient, acks: AgentReply[], runMs: number, installMs: number): Promise<ActionRow[]> {
  const { rows } = await client.query<Raw>({
    name: 'actions_ack',
    text: `UPDATE server_actions a SET state = 'ACKED', acked_at = now(), updated_at = now(),
             deadline_at = now() + make_interval(secs => CASE WHEN a.action = 'INSTALL' THEN $4 ELSE $3 END::double precision / 1000)
           FROM servers s, unnest($1::uuid[], $2::uuid[]) AS v(id, node_id)
           WHERE a.id = v.id AND s.id = a.server_id AND s.node_id = v.node_id AND a.state = 'DISPATCHED'
           RETURNING ${COLUMNS}`,
    values: [acks.map(a => a.commandId), acks.map(a => a.nodeId), runMs, installMs]
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
 * Of these actions (rows the caller locked: lockLive), those whose current state timed out end:
 * QUEUED → EXPIRED (DELIVERY_TIMEOUT), DISPATCHED → EXPIRED (ACK_TIMEOUT), ACKED → FAILED
 * (RUN_TIMEOUT). Run by the worker of the actions' deadline jobs (actions/action-store.ts).
 */
export async function endTimedOut (client: pg.PoolClient, ids: string[]): Promise<ActionRow[]> {
  const { rows } = await client.query<Raw>({
    name: 'actions_end_timed_out',
    text: `UPDATE server_actions a SET
             state = CASE a.state WHEN 'ACKED' THEN 'FAILED' ELSE 'EXPIRED' END::"ActionState",
             error_code = CASE a.state WHEN 'QUEUED' THEN 'DELIVERY_TIMEOUT' WHEN 'DISPATCHED' THEN 'ACK_TIMEOUT' ELSE 'RUN_TIMEOUT' END,
             error_message = CASE a.state
               WHEN 'QUEUED' THEN 'not delivered to the agent before expiresAt'
               WHEN 'DISPATCHED' THEN 'the agent did not acknowledge the command in time'
               ELSE 'the agent did not report a result in time' END,
             completed_at = now(), deadline_at = NULL, updated_at = now()
           FROM servers s
           WHERE a.id = ANY($1::uuid[]) AND s.id = a.server_id AND a.state IN ${LIVE} AND a.deadline_at <= now()
           RETURNING ${COLUMNS}`,
    values: [ids]
  })
  return rows.map(toRow)
}

export interface LiveDeadline {
  id: string
  deadlineAt: Date | null
  /** False: another transaction holds the row (an ack or result being written); not waited for. */
  locked: boolean
}

/**
 * Those of these actions still live, with their deadlines; the rows this transaction could lock
 * stay locked until it ends, so an ack or result waits and settles the job rescheduled here. SKIP
 * LOCKED, as the sweep before it: a row being moved right now is not waited for (no deadlock with
 * a batch of replies locking rows in another order); the caller looks at it again shortly.
 */
export async function lockLive (client: pg.PoolClient, ids: string[]): Promise<LiveDeadline[]> {
  const { rows } = await client.query<{ id: string, deadline_at: Date | null, locked: boolean }>({
    name: 'actions_lock_live',
    text: `WITH locked AS (
             SELECT id, deadline_at FROM server_actions WHERE id = ANY($1::uuid[]) AND state IN ${LIVE} FOR UPDATE SKIP LOCKED
           )
           SELECT a.id, coalesce(l.deadline_at, a.deadline_at) AS deadline_at, l.id IS NOT NULL AS locked
           FROM server_actions a LEFT JOIN locked l ON l.id = a.id
           WHERE a.id = ANY($1::uuid[]) AND a.state IN ${LIVE}`,
    values: [ids]
  })
  return rows.map(r => ({ id: r.id, deadlineAt: r.deadline_at, locked: r.locked }))
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
