// Group commit of agent status reports: one message writes a whole batch with multi-row
// statements, so the cost per transition falls as load rises.
//
// Status ingest takes one round trip a batch (ingestRoundSql): a statement locks the batch's
// server rows, checks each report against the stored seq and the legal transitions, writes the
// accepted ones and appends their events, all inside PostgreSQL. Every round trip is a wait for
// the hub's event loop, which console traffic keeps busy; this way a report waits for it once.
// `hello` snapshots still lock first and decide in the hub (two round trips, inBatchTransaction).
// Values are inlined (ids and rows as one JSON constant each), because the statements share a
// message (a multi-statement message has no parameters).
import { jsonb, type NewEvent } from './events.ts'

export interface StoredServer {
  id: string
  nodeId: string
  status: string
  seq: number
}

export interface TransitionRow {
  serverId: string
  from: string
  to: string
  seq: number
  reason: string | null
  at: Date
}

export interface ServerRow { id: string, node_id: string, status: string, seq: string }

export const byId = (rows: ServerRow[]): Map<string, StoredServer> =>
  new Map(rows.map(r => [r.id, { id: r.id, nodeId: r.node_id, status: r.status, seq: Number(r.seq) }]))

/** The statement that locks these servers, in id order (so lanes and hubs never deadlock); rows are ServerRow. */
export const lockServersSql = (ids: readonly string[]): string =>
  `SELECT id, node_id, status, seq FROM servers
   WHERE id = ANY(ARRAY(SELECT jsonb_array_elements_text(${jsonb(ids)})::uuid)) ORDER BY id FOR UPDATE`

/**
 * The statement that inserts the transitions and moves each server to its last one: `finals`
 * may hold servers whose seq alone moved (a hello), which have no row in `rows`.
 */
export function writeTransitionsSql (rows: readonly TransitionRow[], finals: Map<string, TransitionRow>): string {
  const last = [...finals.values()].map(r => ({ id: r.serverId, status: r.to, seq: r.seq, at: r.at }))
  const inserted = rows.map(r => ({ server_id: r.serverId, from_status: r.from, to_status: r.to, seq: r.seq, reason: r.reason, at: r.at }))
  return `WITH inserted AS (
            INSERT INTO server_status_transitions (server_id, from_status, to_status, seq, reason, at)
            SELECT server_id, from_status, to_status, seq, reason, at FROM jsonb_to_recordset(${jsonb(inserted)})
              AS v(server_id uuid, from_status "ServerStatus", to_status "ServerStatus", seq bigint, reason text, at timestamptz)
          )
          UPDATE servers s SET status = v.status, seq = v.seq, status_changed_at = v.at, updated_at = now()
          FROM jsonb_to_recordset(${jsonb(last)}) AS v(id uuid, status "ServerStatus", seq bigint, at timestamptz)
          WHERE s.id = v.id`
}

/** The statement that locks every server of these nodes (for `hello` snapshots); rows are ServerRow. */
export const lockNodeServersSql = (nodeIds: readonly string[]): string =>
  `SELECT id, node_id, status, seq FROM servers
   WHERE node_id = ANY(ARRAY(SELECT jsonb_array_elements_text(${jsonb(nodeIds)})::uuid)) ORDER BY id FOR UPDATE`

/** Locked server rows by node. */
export function byNode (rows: ServerRow[]): Map<string, Map<string, StoredServer>> {
  const nodes = new Map<string, Map<string, StoredServer>>()
  for (const [id, server] of byId(rows)) {
    let servers = nodes.get(server.nodeId)
    if (servers === undefined) nodes.set(server.nodeId, servers = new Map())
    servers.set(id, server)
  }
  return nodes
}

/** A status report of an ingest round, with its place in the batch and its event (`from` unset). */
export interface RoundReport {
  i: number
  serverId: string
  nodeId: string
  status: string
  seq: number
  reason: string | null
  at: Date
  event: NewEvent
}

/** What the round decided for report `i`; `from` is the status it found stored. */
export interface RoundRow { i: number, outcome: 'OK' | 'REPLAY' | 'NOT_YOUR_SERVER' | 'ILLEGAL_TRANSITION', from: string | null }

/**
 * One statement that ingests `reports` (at most one per server): it locks their servers in id
 * order, checks each report in the order of the hub's state machine (another node's server, then
 * a replay by seq, then the transition, whose legal pairs come from the hub in `legal`, a JSON
 * object from status to the statuses that may follow it), inserts the accepted transitions, moves
 * their servers and appends their events with `from` filled in. Rows are RoundRow. A report of
 * the same server in a later statement of the same message sees this one's effects.
 */
export function ingestRoundSql (reports: readonly RoundReport[], legal: string): string {
  const input = reports.map(r => ({ i: r.i, server_id: r.serverId, node_id: r.nodeId, status: r.status, seq: r.seq, reason: r.reason, at: r.at, event: r.event }))
  return `WITH r AS (
            SELECT * FROM jsonb_to_recordset(${jsonb(input)})
              AS r(i int, server_id uuid, node_id uuid, status "ServerStatus", seq bigint, reason text, at timestamptz, event jsonb)
          ), s AS MATERIALIZED (
            SELECT id, node_id, status, seq FROM servers WHERE id IN (SELECT server_id FROM r) ORDER BY id FOR UPDATE
          ), c AS MATERIALIZED (
            SELECT r.*, s.status AS from_status,
                   CASE WHEN s.id IS NULL OR s.node_id <> r.node_id THEN 'NOT_YOUR_SERVER'
                        WHEN r.seq <= s.seq THEN 'REPLAY'
                        WHEN COALESCE((${legal}) -> s.status::text ? r.status::text, false) THEN 'OK'
                        ELSE 'ILLEGAL_TRANSITION' END AS outcome
            FROM r LEFT JOIN s ON s.id = r.server_id
          ), inserted AS (
            INSERT INTO server_status_transitions (server_id, from_status, to_status, seq, reason, at)
            SELECT server_id, from_status, status, seq, reason, at FROM c WHERE outcome = 'OK'
          ), moved AS (
            UPDATE servers t SET status = c.status, seq = c.seq, status_changed_at = c.at, updated_at = now()
            FROM c WHERE t.id = c.server_id AND c.outcome = 'OK'
          ), appended AS MATERIALIZED (
            SELECT append_events(jsonb_agg(jsonb_set(event, '{data,from}', to_jsonb(from_status::text)) ORDER BY i))
            FROM c WHERE outcome = 'OK' HAVING count(*) > 0
          )
          SELECT i, outcome, from_status::text AS "from", a.events FROM c CROSS JOIN (SELECT count(*) AS events FROM appended) a`
}
