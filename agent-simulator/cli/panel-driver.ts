/**
 * `--panels P`: P panel connections (panel-client.ts) on the main thread, logged in as the admin
 * user the simulator already holds a session for. Even-numbered panels authenticate with the
 * session token in the upgrade's header, odd ones with a single-use ticket, so both paths carry load.
 *
 * Panel i watches a window of servers (panel-ledger.ts `panelSlices`): by default an even share,
 * at least 100 (all when fewer), so every server has a watcher and small fleets fan out to many
 * panels. Capped at 1,000 per panel: one `subscribe` frame, which is what `resume()` can resend.
 *
 * Latency status → panel event: the event's `at` is the agent's own timestamp of the status
 * (the hub keeps it, bounded by its clock), so receive time minus `at` needs no correlation
 * across threads. The agent's `at` has millisecond resolution: figures read up to 1 ms high.
 *
 * `--stall-panels f`: that fraction stops reading a few seconds after subscribing and resumes
 * when the load ends (their events are checked but left out of the latency figures), so the hub's slow-consumer path (coalescing, `resync`, or closing after
 * HUB_PANEL_MAX_STALL_MS / a missed heartbeat) is exercised. A panel whose socket closed resumes
 * on a new connection with `since` = its cursor, as a real panel would.
 *
 * Console and stats (--console-rate, --stats-interval): each panel also subscribes with
 * `console: true` / `stats: true`. A line `sim <seq> <send time>` gives one latency sample
 * (receive time minus send time, both performance.timeOrigin + performance.now(), one clock in
 * every thread), filed under `consoleLine` or, for a panel on another hub than the agents'
 * (--panel-hubs), `consoleLineCrossHub`; a seq that skips ahead of the server's previous one is
 * lost lines (`consoleLost`), and the hub's `dropped` counts are summed (`consoleDropped`).
 * Replay frames are counted, not measured; stalled panels' lines are left out.
 *
 * Why the main thread: at the rates a 2-core machine sustains (thousands of events/s) parsing
 * events costs a few percent of a core; the report gives the simulator's CPU so this can be judged.
 */
import { mapLimit } from './api-client.ts'
import { createPanelClient, type PanelClient, type PanelEvent, type PanelFrame } from '../panel-client.ts'
import type { DriverContext, DriverVerdict, LoadDriver } from './driver-types.ts'
import { createPanelLedger, defaultPerPanel, panelSlices, type PanelLedger } from './panel-ledger.ts'
import { newHistogram, recordMs } from './stats.ts'
import type { AckedByServer } from './worker-protocol.ts'

const MAX_PER_PANEL = 1000
const CONNECT_CONCURRENCY = 10
const CATCH_UP_MS = 15_000
const STALL_AFTER_MS = 5_000

interface SimPanel {
  index: number
  client: PanelClient
  ledger: PanelLedger
  /** Set once it stops reading: its events no longer count towards the latency. */
  stall: { once: boolean }
  stalled: boolean
  resuming: boolean
  lost: string | undefined
  /** The last console seq per server (cleared on a resume: lines missed while away are not lost by the hub). */
  seen: Map<string, number>
  servers: string[]
}

export interface PanelDriverOptions {
  panels: number
  stallFraction: number
  perPanel: number | undefined
  catchUpMs?: number
  /** Watch the servers' console and stats too. */
  console?: boolean
  stats?: boolean
  /** Hubs the panels connect to in turn; undefined: the agents' hub. */
  hubs?: string[]
}

export function createPanelDriver (o: PanelDriverOptions): LoadDriver {
  const panels: SimPanel[] = []
  let counters = zero()
  const totals = zero()
  let hist = newHistogram()
  let lineHist = newHistogram()
  let crossHist = newHistogram()
  let stopping = false
  let stallTimer: NodeJS.Timeout | undefined
  let log: (line: string) => void = () => {}
  let watchedPerPanel = 0

  function zero () {
    return { events: 0, statusEvents: 0, actionEvents: 0, resyncs: 0, panelReconnects: 0, panelErrors: 0, consoleLines: 0, consoleReplayed: 0, consoleLost: 0, consoleDropped: 0, statsFrames: 0 }
  }
  const count = (k: keyof ReturnType<typeof zero>, n = 1) => { counters[k] += n; totals[k] += n }

  function onEvent (ledger: PanelLedger, stall: { once: boolean }, ev: PanelEvent, receivedAt: number): void {
    count('events')
    if (ev.kind === 'server.status') {
      count('statusEvents')
      ledger.status(ev.data)
      // A panel that chose to stop reading measures its own stall, not the hub: left out.
      if (!stall.once) recordMs(hist, Math.max(0, receivedAt - Date.parse(ev.at)))
    } else if (ev.kind === 'action.updated') {
      count('actionEvents')
    }
  }

  function onStream (seen: Map<string, number>, stall: { once: boolean }, cross: boolean, frame: PanelFrame, receivedAt: number): void {
    if (frame.type === 'stats') { count('statsFrames'); return }
    if (typeof frame.dropped === 'number') count('consoleDropped', frame.dropped)
    const lines = frame.lines as string[]
    if (frame.replay === true) { count('consoleReplayed', lines.length); return }
    for (const line of lines) {
      const [tag, seqText, sentText] = line.split(' ')
      count('consoleLines')
      if (tag !== 'sim') continue
      const seq = Number(seqText)
      const last = seen.get(frame.serverId as string)
      if (last !== undefined && seq > last + 1) count('consoleLost', seq - last - 1)
      if (last === undefined || seq > last) seen.set(frame.serverId as string, seq)
      if (!stall.once) recordMs(cross ? crossHist : lineHist, Math.max(0, receivedAt - Number(sentText)))
    }
  }

  async function open (index: number, servers: string[], token: string, hubUrl: string, agentsHub: string): Promise<SimPanel> {
    const ledger = createPanelLedger(index, servers)
    let snapshots = 0
    const stall = { once: false }
    const seen = new Map<string, number>()
    const client = createPanelClient({
      url: hubUrl,
      token,
      useTicket: index % 2 === 1,
      keepFrames: false,
      timeoutMs: 30_000,
      onEvent: (ev, at) => onEvent(ledger, stall, ev, at),
      onResync: () => { count('resyncs'); ledger.resync() },
      onStream: (frame, at) => onStream(seen, stall, hubUrl !== agentsHub, frame, at),
      // Only the first subscribe's snapshot starts the continuity check: after a resume with
      // `since`, the snapshot is newer than the replayed events that follow it.
      onSubscribed: (frame) => {
        if (snapshots++ > 0) return
        for (const s of frame.servers as Array<{ serverId: string, status: string }>) ledger.snapshot(s.serverId, s.status)
      }
    })
    await client.connect()
    const answer = await client.subscribe({ servers, ...(o.console === true ? { console: true } : {}), ...(o.stats === true ? { stats: true } : {}) })
    if (answer.type !== 'subscribed') throw new Error(`panel ${index}: subscribe refused: ${answer.code} ${answer.message}`)
    return { index, client, ledger, stall, stalled: false, resuming: false, lost: undefined, seen, servers }
  }

  /** A panel whose socket closed resumes with `since` (the hub replays, or says `resync`). */
  function heal (): void {
    for (const p of panels) {
      if (stopping || p.resuming || p.stalled || p.lost !== undefined || p.client.state.closed === undefined) continue
      p.resuming = true
      const why = p.client.state.closed
      count('panelReconnects')
      p.client.resume().then(async () => {
        // resume() resubscribes the status stream only: console and stats are asked for again.
        p.seen.clear()
        if (o.console === true || o.stats === true) await p.client.subscribe({ servers: p.servers, ...(o.console === true ? { console: true } : {}), ...(o.stats === true ? { stats: true } : {}) })
        p.resuming = false
      }).catch((err: Error) => {
        p.resuming = false
        count('panelErrors')
        // 4401 (session gone) is terminal; anything else is retried at the next sample.
        if (why.code === 4401) p.lost = `closed ${why.code} ${why.reason}; resume failed: ${err.message}`
      })
    }
  }

  const requested = o.panels > 0 ? `${o.panels} panels${o.stallFraction > 0 ? `, ${Math.round(o.stallFraction * 100)}% stalled` : ''}` : undefined
  return {
    name: 'panels',
    requested,
    notRunReason: undefined,
    async start (ctx: DriverContext) {
      log = ctx.log
      const token = ctx.api.token
      if (token === undefined) throw new Error('panels: the simulator has no session token')
      const serverIds = ctx.agents.flatMap((a) => a.servers.map((s) => s.serverId))
      watchedPerPanel = Math.min(MAX_PER_PANEL, o.perPanel ?? defaultPerPanel(serverIds.length, o.panels))
      const slices = panelSlices(serverIds, o.panels, watchedPerPanel)
      const started = Date.now()
      const hubs = o.hubs ?? [ctx.hubUrl]
      panels.push(...await mapLimit(slices, CONNECT_CONCURRENCY, async (servers, i) => await open(i, servers, token, hubs[i % hubs.length] as string, ctx.hubUrl)))
      log(`${panels.length} panels subscribed to ${watchedPerPanel} servers each in ${((Date.now() - started) / 1000).toFixed(1)} s ` +
        `(${serverIds.length} servers; header auth on even panels, ticket on odd ones)`)
      const stalled = Math.round(o.panels * o.stallFraction)
      if (stalled > 0) {
        stallTimer = setTimeout(() => {
          for (const p of panels.slice(0, stalled)) { p.stalled = true; p.stall.once = true; p.client.pauseReading() }
          log(`${stalled} panels stopped reading`)
        }, STALL_AFTER_MS)
      }
    },
    sample () {
      heal()
      const s = {
        counters: { ...counters },
        histograms: {
          ...(hist.totalCount > 0 ? { statusEvent: hist } : {}),
          ...(lineHist.totalCount > 0 ? { consoleLine: lineHist } : {}),
          ...(crossHist.totalCount > 0 ? { consoleLineCrossHub: crossHist } : {})
        }
      }
      counters = zero()
      hist = newHistogram()
      lineHist = newHistogram()
      crossHist = newHistogram()
      return s
    },
    async drain () {
      clearTimeout(stallTimer)
      for (const p of panels) {
        if (p.stalled) { p.stalled = false; p.client.resumeReading() }
      }
    },
    async verify (acked: AckedByServer): Promise<DriverVerdict> {
      // Events of the last acks may still be on their way (or being replayed to a resumed panel).
      const deadline = Date.now() + (o.catchUpMs ?? CATCH_UP_MS)
      while (Date.now() < deadline && panels.some((p) => p.lost === undefined && p.ledger.behind(acked) > 0)) {
        heal()
        await new Promise((resolve) => setTimeout(resolve, 200))
      }
      stopping = true
      const violations = []
      let expected = 0
      let missing = 0
      let excused = 0
      let gaps = 0
      let outOfOrder = 0
      for (const p of panels) {
        p.ledger.idOrder(p.client.state.orderViolations)
        const c = p.ledger.check(acked)
        expected += c.expected
        missing += c.missing
        excused += c.excusedByResync
        gaps += c.gaps
        outOfOrder += c.outOfOrder
        violations.push(...c.violations)
        if (p.lost !== undefined) violations.push({ kind: 'panel-lost', message: `panel ${p.index}: ${p.lost}` })
      }
      return {
        violations: violations.slice(0, 100),
        details: {
          panels: panels.length,
          serversPerPanel: watchedPerPanel,
          stalled: Math.round(o.panels * o.stallFraction),
          expectedEvents: expected,
          missingEvents: missing,
          excusedByResync: excused,
          gaps,
          outOfOrder,
          panelsResynced: panels.filter((p) => p.ledger.resyncs > 0).length,
          totals: { ...totals },
          violationsFound: violations.length
        }
      }
    },
    async stop () {
      stopping = true
      clearTimeout(stallTimer)
      for (const p of panels) p.client.terminate()
    }
  }
}
