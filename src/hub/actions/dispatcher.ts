// Delivery of actions to the agent that should run them. Part of the realtime core: no Fastify,
// no ws; sessions are reached through `CommandTarget`.
//
// Who delivers: the hub that holds the node's connection, and only after the action is durably
// DISPATCHED (the claim is a guarded UPDATE, so when several paths offer the same action it is
// sent once per claim, whichever hub or path wins). Three paths offer actions:
//   1. the local fast path: this hub holds the node's ready connection when the POST arrives, so
//      the creating transaction claims the action itself (inserted DISPATCHED, with both the
//      QUEUED and the DISPATCHED event) and it is sent right after that commit: one transaction
//      between the request and the frame, not two in series. (An action this hub created QUEUED,
//      its node not ready here at the time, is offered too and claimed if the node is ready now.)
//   2. the event feed: every hub sees every `action.updated` QUEUED event (LISTEN/NOTIFY on the
//      event log, which the creating transaction already notifies), so a hub holding a node
//      connected elsewhere than where the POST landed hears of it within one notification;
//   3. the node becoming ready (right after `welcome`): everything QUEUED and not expired, and
//      everything DISPATCHED or ACKED within its timeout (sent before the connection dropped, by a
//      hub that died before sending, or whose result was lost with the connection) goes out,
//      oldest first. Agents dedupe by commandId and answer a finished one with its result again.
// Ordering: a session is marked ready before its pending read starts, so an action committed
// before that read is found by it, and one committed after it is offered by path 1 or 2.
import type { CommandMessage } from '../../agent-protocol/index.ts'
import type { Feature } from '../../agent-protocol/index.ts'
import { REQUIRED_FEATURE, type ActionRow } from '../../db/sql/actions.ts'
import type { HubEvent } from '../bus.ts'
import type { ActionStore } from './action-store.ts'

export interface CommandTarget {
  readonly nodeId: string
  isReady (): boolean
  sendCommand (msg: CommandMessage): void
  /** The connection's negotiated features (PROTOCOL.md 1.1); absent: a v1 target. */
  hasFeature? (feature: Feature): boolean
}

export interface DispatcherDeps {
  store: Pick<ActionStore, 'dispatch'>
  session: (nodeId: string) => CommandTarget | undefined
  pending: (nodeId: string) => Promise<ActionRow[]>
  log: { warn (obj: object, msg: string): void }
}

export interface Dispatcher {
  /** Actions this hub just created: DISPATCHED ones (claimed in that transaction) are sent, QUEUED ones claimed. */
  offer (rows: ActionRow[]): void
  /** Events from the feed (any hub's). */
  onEvents (events: HubEvent[]): void
  /** A node's session just became ready (welcome sent). */
  nodeReady (target: CommandTarget): Promise<void>
  /** True while this hub holds a ready connection of the node (its actions may be claimed at creation). */
  holds (nodeId: string): boolean
}

/** The `command` frame of an action; a COMMAND carries its console `input` (PROTOCOL.md 1.1). */
export const commandOf = (row: ActionRow): CommandMessage => ({
  type: 'command',
  commandId: row.id,
  serverId: row.serverId,
  action: row.action as CommandMessage['action'],
  issuedAt: row.timestamp.toISOString(),
  expiresAt: row.expiresAt.toISOString(),
  ...(row.input === null ? {} : { input: row.input })
})

export function createDispatcher (deps: DispatcherDeps): Dispatcher {
  const { store, session, log } = deps

  const readyTarget = (nodeId: string) => {
    const t = session(nodeId)
    return t !== undefined && t.isReady() ? t : undefined
  }

  function send (row: ActionRow): void {
    // The session may have changed since the claim: a newer one redelivers it after its welcome.
    const target = readyTarget(row.nodeId)
    // The hub sends nothing of a feature the connection did not negotiate: a DISPATCHED or ACKED
    // COMMAND/INSTALL redelivered to an agent that came back without it waits for its timeout.
    const feature = REQUIRED_FEATURE[row.action] as Feature | undefined
    if (feature !== undefined && target?.hasFeature?.(feature) === false) return
    target?.sendCommand(commandOf(row))
  }

  async function claimAndSend (actionId: string): Promise<void> {
    const row = await store.dispatch(actionId)
    if (row !== null) send(row)
  }

  const claim = (actionId: string, nodeId: string) => {
    if (readyTarget(nodeId) === undefined) return
    claimAndSend(actionId).catch(err => log.warn({ err, actionId }, 'action dispatch failed; it stays QUEUED'))
  }

  return {
    offer (rows) {
      for (const r of rows) {
        if (r.state === 'QUEUED') claim(r.id, r.nodeId)
        else if (r.state === 'DISPATCHED') send(r)
      }
    },
    onEvents (events) {
      // A QUEUED event followed in the same read by a later move of that action (an action claimed
      // in its creating transaction, or claimed already) needs no claim: it would fail anyway, as
      // a transaction. One split across two reads still gets a claim attempt, which is harmless.
      let moved: Set<string> | undefined
      for (const e of events) {
        if (e.kind === 'action.updated' && e.data.state !== 'QUEUED') (moved ??= new Set()).add(String(e.data.actionId))
      }
      for (const e of events) {
        if (e.kind !== 'action.updated' || e.data.state !== 'QUEUED' || e.nodeId === null) continue
        const actionId = String(e.data.actionId)
        if (moved?.has(actionId) !== true) claim(actionId, e.nodeId)
      }
    },
    holds: nodeId => readyTarget(nodeId) !== undefined,
    async nodeReady (target) {
      const rows = await deps.pending(target.nodeId)
      for (const row of rows) {
        if (row.state === 'QUEUED') claim(row.id, row.nodeId)
        else send(row)
      }
    }
  }
}
