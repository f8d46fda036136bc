/**
 * The actions the simulator posted and what became of them: pure bookkeeping for the action
 * driver. It correlates the three clocks of an action by its id (= the commandId the agent gets):
 * when the POST was sent (main thread), when an agent received the command (a worker thread;
 * epoch milliseconds with sub-millisecond precision, comparable across threads of one process),
 * and when the hub completed it (`completedAt`, the hub's clock on the same machine).
 *
 * A command can reach the agent before the 202 reaches the simulator (the hub dispatches as soon
 * as the action commits), so command receipts without a known action are held until it is.
 */
import type { Violation } from './correctness.ts'

export const FINAL_STATES = new Set(['SUCCEEDED', 'FAILED', 'EXPIRED', 'CANCELLED'])

interface Tracked {
  serverId: string
  action: string
  postAt: number
  commandAt: number | undefined
  state: string
  errorCode: string | null
}

export interface ActionView { state: string, completedAt: string | null, errorCode: string | null }

export interface ActionCheck {
  accepted: number
  final: number
  byState: Record<string, number>
  byError: Record<string, number>
  /** Accepted actions whose command no agent reported receiving (KILLed or expired ones may not have). */
  withoutCommand: number
  violations: Violation[]
}

export function createActionLedger (onLatency: (name: 'actionCommand' | 'actionSucceeded', ms: number) => void = () => {}) {
  const actions = new Map<string, Tracked>()
  // Not yet final, in acceptance order: pending() is read every second and on every poll round,
  // so it must not walk every action of the run (that grows with its length).
  const open = new Set<string>()
  const early = new Map<string, number>()

  return {
    accepted (actionId: string, serverId: string, action: string, postAt: number): void {
      if (actions.has(actionId)) return // a repeated idempotency key: the first POST's clock counts
      const t: Tracked = { serverId, action, postAt, commandAt: undefined, state: 'QUEUED', errorCode: null }
      actions.set(actionId, t)
      open.add(actionId)
      const at = early.get(actionId)
      if (at !== undefined) {
        early.delete(actionId)
        this.command(actionId, at)
      }
    },
    /** An agent received the command (first delivery only: redeliveries are ignored). */
    command (actionId: string, at: number): void {
      const t = actions.get(actionId)
      if (t === undefined) {
        if (!early.has(actionId)) early.set(actionId, at)
        return
      }
      if (t.commandAt !== undefined) return
      t.commandAt = at
      onLatency('actionCommand', Math.max(0, at - t.postAt))
    },
    /** The hub's view of an action, from `GET /api/actions/:id`. */
    observed (actionId: string, view: ActionView): void {
      const t = actions.get(actionId)
      if (t === undefined || FINAL_STATES.has(t.state)) return
      t.state = view.state
      t.errorCode = view.errorCode
      if (FINAL_STATES.has(t.state)) open.delete(actionId)
      if (view.state === 'SUCCEEDED' && view.completedAt !== null) {
        onLatency('actionSucceeded', Math.max(0, Date.parse(view.completedAt) - t.postAt))
      }
    },
    /** Ids of accepted actions not yet seen in a final state, oldest first (at most `limit`). */
    pending (limit = Infinity): string[] {
      const out: string[] = []
      for (const id of open) {
        if (out.length >= limit) break
        out.push(id)
      }
      return out
    },
    get pendingCount () { return open.size },
    get size () { return actions.size },
    check (maxListed = 50): ActionCheck {
      const byState: Record<string, number> = {}
      const byError: Record<string, number> = {}
      const violations: Violation[] = []
      let final = 0
      let withoutCommand = 0
      for (const [id, t] of actions) {
        byState[t.state] = (byState[t.state] ?? 0) + 1
        if (t.errorCode !== null) byError[t.errorCode] = (byError[t.errorCode] ?? 0) + 1
        if (t.commandAt === undefined) withoutCommand++
        if (FINAL_STATES.has(t.state)) { final++; continue }
        if (violations.length < maxListed) {
          violations.push({ kind: 'action-not-final', message: `action ${id} (${t.action} on server ${t.serverId}) was accepted but is still ${t.state} after the drain` })
        }
      }
      const notFinal = actions.size - final
      if (notFinal > violations.length) violations.push({ kind: 'action-not-final', message: `${notFinal} accepted actions in all were not final (${maxListed} listed)` })
      return { accepted: actions.size, final, byState, byError, withoutCommand, violations }
    }
  }
}
export type ActionLedger = ReturnType<typeof createActionLedger>

/** Which power action to post: mostly START/STOP/RESTART, a few KILLs (which supersede the others). */
export function pickAction (random: () => number = Math.random): 'START' | 'STOP' | 'RESTART' | 'KILL' {
  const r = random()
  if (r < 0.05) return 'KILL'
  if (r < 0.4) return 'START'
  if (r < 0.75) return 'STOP'
  return 'RESTART'
}

/** How long a simulated agent takes to carry out a command, in ms: seconds for starts, little for a kill. */
export function commandDelayMs (action: string, random: () => number = Math.random): number {
  switch (action) {
    case 'START': return 500 + random() * 2500
    case 'RESTART': return 800 + random() * 3200
    case 'STOP': return 300 + random() * 1700
    default: return 20 + random() * 180
  }
}
