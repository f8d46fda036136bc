/**
 * `--action-rate R`: power actions posted through the REST API with the admin session, at R per
 * second (a token budget on a 50 ms tick), each against a random simulated server. The agents
 * answer them (agent-worker.ts: ack at once, the result after a realistic delay, a share fail).
 *
 * - 202: tracked in the action ledger; 409 (a START/STOP/RESTART of that server is not final yet)
 *   is counted as a conflict, not an error; 5xx counts towards --max-error-rate.
 * - POST → command: the agent's receipt time, reported by its worker, matched by id.
 * - POST → SUCCEEDED: the hub's `completedAt`. Actions not yet final are polled with
 *   `GET /api/actions/:id` once a second during the run (oldest first, bounded per round), and
 *   all of them during the drain, while the agents still run, until every accepted action is
 *   final or the drain period ends; those still not final then are violations.
 * - At most MAX_INFLIGHT POSTs at once: past that the tick skips (counted), so an overloaded hub
 *   slows the driver instead of piling up requests.
 */
import { ApiError, mapLimit } from './api-client.ts'
import type { ApiClient } from './api-client.ts'
import { createActionLedger, pickAction, type ActionView } from './action-ledger.ts'
import type { DriverContext, DriverVerdict, LoadDriver } from './driver-types.ts'
import { newHistogram, recordMs } from './stats.ts'

const TICK_MS = 50
const MAX_INFLIGHT = 64
const POLL_EVERY_MS = 1000
const POLL_BATCH = 200
const POLL_CONCURRENCY = 8

const epochMs = () => performance.timeOrigin + performance.now()

export function createActionDriver (o: { ratePerS: number, drainMs: number }): LoadDriver {
  let api: ApiClient | undefined
  let serverIds: string[] = []
  const zero = () => ({ actionsPosted: 0, actionsAccepted: 0, actionConflicts: 0, actionServerErrors: 0, actionOtherErrors: 0, actionsSkipped: 0 })
  let counters = zero()
  const totals = zero()
  const count = (k: keyof ReturnType<typeof zero>) => { counters[k]++; totals[k]++ }
  const hists = { actionCommand: newHistogram(), actionSucceeded: newHistogram() }
  const ledger = createActionLedger((name, ms) => recordMs(hists[name], ms))
  const errors: Record<string, number> = {}
  let ticker: NodeJS.Timeout | undefined
  let poller: NodeJS.Timeout | undefined
  let inflight = 0
  let polling = false
  let budget = 0
  let last = 0
  let drained: { ms: number, leftPending: number } | undefined

  async function post (serverId: string): Promise<void> {
    const action = pickAction()
    const postAt = epochMs()
    count('actionsPosted')
    inflight++
    try {
      const res = await (api as ApiClient).request<{ actionId: string }>('POST', `/api/servers/${serverId}/actions`, { action })
      count('actionsAccepted')
      ledger.accepted(res.actionId, serverId, action, postAt)
    } catch (err) {
      if (err instanceof ApiError && err.status === 409) count('actionConflicts')
      else {
        count(err instanceof ApiError && err.status >= 500 ? 'actionServerErrors' : 'actionOtherErrors')
        const code = err instanceof ApiError ? `action:HTTP ${err.status} ${err.code ?? ''}`.trim() : `action:${(err as Error).name}`
        errors[code] = (errors[code] ?? 0) + 1
      }
    } finally {
      inflight--
    }
  }

  function tick (): void {
    const now = performance.now()
    budget = Math.min(budget + o.ratePerS * (now - last) / 1000, Math.max(1, o.ratePerS))
    last = now
    while (budget >= 1) {
      budget--
      if (inflight >= MAX_INFLIGHT) { count('actionsSkipped'); continue }
      const serverId = serverIds[Math.floor(Math.random() * serverIds.length)] as string
      post(serverId).catch(() => {})
    }
  }

  /** Reads the state of (some of) the pending actions; one round at a time. */
  async function poll (limit: number): Promise<void> {
    if (polling || api === undefined) return
    polling = true
    try {
      const ids = ledger.pending().slice(0, limit)
      await mapLimit(ids, POLL_CONCURRENCY, async (id) => {
        try {
          ledger.observed(id, await (api as ApiClient).request<ActionView>('GET', `/api/actions/${id}`))
        } catch (err) {
          const code = `action-poll:${err instanceof ApiError ? `HTTP ${err.status}` : (err as Error).name}`
          errors[code] = (errors[code] ?? 0) + 1
        }
      })
    } finally {
      polling = false
    }
  }

  return {
    name: 'actions',
    requested: o.ratePerS > 0 ? `${o.ratePerS} actions/s` : undefined,
    notRunReason: undefined,
    async start (ctx: DriverContext) {
      api = ctx.api
      serverIds = ctx.agents.flatMap((a) => a.servers.map((s) => s.serverId))
      last = performance.now()
      ticker = setInterval(tick, TICK_MS)
      poller = setInterval(() => { poll(POLL_BATCH).catch(() => {}) }, POLL_EVERY_MS)
    },
    sample () {
      const histograms = Object.fromEntries(Object.entries(hists).filter(([, h]) => h.totalCount > 0))
      const s = { counters: { ...counters, actionsPending: ledger.pending().length }, histograms }
      counters = zero()
      hists.actionCommand = newHistogram()
      hists.actionSucceeded = newHistogram()
      return s
    },
    onCommand (commandId, at) { ledger.command(commandId, at) },
    async drain () {
      clearInterval(ticker)
      clearInterval(poller)
      const started = Date.now()
      const deadline = started + o.drainMs
      // eslint-disable-next-line no-unmodified-loop-condition -- inflight drops as POSTs answer
      while (inflight > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50))
      // eslint-disable-next-line no-unmodified-loop-condition -- the poll round in flight clears it
      while (polling) await new Promise((resolve) => setTimeout(resolve, 20))
      while (Date.now() < deadline) {
        await poll(Infinity)
        if (ledger.pending().length === 0) break
        await new Promise((resolve) => setTimeout(resolve, 500))
      }
      drained = { ms: Date.now() - started, leftPending: ledger.pending().length }
    },
    async verify (): Promise<DriverVerdict> {
      const c = ledger.check()
      return {
        violations: c.violations,
        details: { ...c, violations: undefined, totals: { ...totals }, drain: drained, errors }
      }
    },
    async stop () {
      clearInterval(ticker)
      clearInterval(poller)
    }
  }
}
