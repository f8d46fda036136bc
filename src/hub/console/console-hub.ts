// Console output and stats on the hub that holds the agent (PROTOCOL.md 1.1 "Console and
// stats"): the last lines per server for replay, the latest stats per server, and the panels that
// watch them. Ephemeral: nothing here is an event, nothing is written to PostgreSQL, nothing waits
// on the event counter's lock. Like the other realtime cores it knows no Fastify and no ws: panels
// are `StreamTarget`s (panel-session.ts implements it over the kernel's ephemeral send class).
//
// - Console: a ring of the last `ringLines` lines (and at most `ringBytes` of text) per server,
//   kept when the server crashes (its last lines are the crash trace). A run of `replay` frames
//   from a (re)connected agent replaces the ring (after a hub restart the ring starts empty and the
//   agent's replay refills it) and is not forwarded live. Subscribing sends the ring first, as
//   `replay: true` frames of at most 100 lines, then live lines follow.
// - Slow readers: every frame to a panel is ephemeral (connection/outbox.ts): sent only while the
//   panel's buffer has room and its event stream is not congested, else dropped. Dropped lines are
//   counted per panel and server and reported as `dropped: n` on the next frame that gets through,
//   so events are never delayed by console traffic and never `resync` because of it.
// - Stats: the latest per server is kept and sent on subscribe. A report goes on to the watchers
//   (and to the relay) at once when the server's previous one went out at least `statsEveryMs`
//   (1 s) ago; otherwise it waits, superseded by any newer one, until that second is up. So each
//   panel gets at most one stats frame per server per second, however often the agent reports,
//   and the frames go out spread as the agents' reports are: a tick that sent every server's
//   stats at once stalled the event loop once a second (2,000 frames), which was the ingest's p99.
import type { ConsoleMessage, StatsMessage } from '../../agent-protocol/index.ts'
import type { SetTimer, Timer } from '../connection/types.ts'

/** A panel connection, as far as console and stats go. */
export interface StreamTarget {
  readonly closed: boolean
  sendEphemeral (key: string, frame: string | Buffer): boolean
}

export interface ConsoleHubOptions {
  setTimer: SetTimer
  now?: () => number
  ringLines?: number
  ringBytes?: number
  statsEveryMs?: number
  /** Cross-hub forwarding (console-relay.ts): told of local interest and of local agents' output. */
  relay?: RelayHooks
}

/** What the cross-hub relay hears from this hub. */
export interface RelayHooks {
  /** A local panel started (`on`) or the last one stopped watching; `replay`: it wants the ring. */
  interest (serverId: string, what: 'console' | 'stats', on: boolean, replay: boolean): void
  lines (serverId: string, lines: readonly string[]): void
  stats (serverId: string, frame: string): void
}

export interface ConsoleHub {
  /** Lines from the agent holding the server; `startsReplay`: the first frame of a replay run. */
  console (msg: ConsoleMessage, startsReplay: boolean): void
  stats (msg: StatsMessage): void
  /** Starts watching; the replay (console) and the latest sample (stats) are sent at once. */
  subscribe (target: StreamTarget, serverIds: readonly string[], what: { console?: boolean, stats?: boolean }): void
  unsubscribe (target: StreamTarget, serverIds: readonly string[], what: { console?: boolean, stats?: boolean }): void
  /** Which of these servers' consoles the target watches (to revoke them). */
  watchedConsoles (target: StreamTarget): string[]
  /** The target closed. */
  detach (target: StreamTarget): void
  /** The ring of a server (tests, and the replay request of another hub). */
  lines (serverId: string): string[]
  /** The latest stats frame of a server (the first answer to another hub's watch). */
  latestStats (serverId: string): string | undefined
  /** Lines forwarded by the hub holding the agent; `replay` ones go only to panels awaiting it. */
  remoteConsole (serverId: string, lines: readonly string[], replay: boolean): void
  /** A stats frame forwarded by the hub holding the agent (already coalesced there). */
  remoteStats (serverId: string, frame: string): void
  /** The server was deleted: its ring, stats and watchers go (memory is bounded by live servers). */
  forget (serverId: string): void
  /** The servers this hub holds anything of (a ring, stats, watchers). */
  known (): string[]
  /** What this hub holds (metrics, and tests that memory is released). */
  counts (): ConsoleCounts
  stop (): void
}

export interface ConsoleCounts {
  /** Servers with a ring of lines. */
  rings: number
  /** Servers with a latest stats sample. */
  stats: number
  /** Servers whose console or stats some panel on this hub watches. */
  watched: number
  /** Panels watching anything. */
  panels: number
  /** Console lines not sent to a panel over its buffer bound, since the hub started. */
  droppedLines: number
}

export const RING_LINES = 200
export const RING_BYTES = 64 * 1024
export const REPLAY_FRAME_LINES = 100

interface Ring { lines: string[], bytes: number }
interface Watching { console: Set<string>, stats: Set<string>, dropped: Map<string, number> }

export function createConsoleHub (options: ConsoleHubOptions): ConsoleHub {
  const { setTimer, now = Date.now, ringLines = RING_LINES, ringBytes = RING_BYTES, statsEveryMs = 1_000, relay } = options
  /** Panels that subscribed without a local ring, awaiting the holding hub's replay (bounded by the watchers). */
  const awaitingReplay = new Map<string, Set<StreamTarget>>()
  const rings = new Map<string, Ring>()
  const latestStats = new Map<string, string>()
  /** When each server's stats last went out; servers whose newer report waits for its turn. */
  const statsSentAt = new Map<string, number>()
  const dirtyStats = new Set<string>()
  const consoleWatchers = new Map<string, Set<StreamTarget>>()
  const statsWatchers = new Map<string, Set<StreamTarget>>()
  const watching = new Map<StreamTarget, Watching>()
  let stopped = false
  let droppedLines = 0

  const watchOf = (t: StreamTarget): Watching => {
    let w = watching.get(t)
    if (w === undefined) watching.set(t, w = { console: new Set(), stats: new Set(), dropped: new Map() })
    return w
  }
  const add = (index: Map<string, Set<StreamTarget>>, id: string, t: StreamTarget) => {
    let set = index.get(id)
    if (set === undefined) index.set(id, set = new Set())
    set.add(t)
  }
  const remove = (index: Map<string, Set<StreamTarget>>, id: string, t: StreamTarget) => {
    const set = index.get(id)
    if (set === undefined) return
    set.delete(t)
    if (set.size === 0) {
      index.delete(id)
      relay?.interest(id, index === consoleWatchers ? 'console' : 'stats', false, false)
    }
  }

  const stopAwaiting = (id: string, t: StreamTarget) => {
    const set = awaitingReplay.get(id)
    if (set !== undefined && set.delete(t) && set.size === 0) awaitingReplay.delete(id)
  }

  function append (serverId: string, lines: readonly string[]): void {
    let ring = rings.get(serverId)
    if (ring === undefined) rings.set(serverId, ring = { lines: [], bytes: 0 })
    for (const line of lines) {
      ring.lines.push(line)
      ring.bytes += line.length
    }
    let drop = 0
    while (ring.lines.length - drop > ringLines || (ring.bytes > ringBytes && ring.lines.length - drop > 1)) {
      ring.bytes -= (ring.lines[drop] as string).length
      drop++
    }
    // One line out per line in, once the ring is full: shift() (V8 trims the array's start in
    // place) rather than splice(), which moved all 200 entries for every line.
    if (drop === 1) ring.lines.shift()
    else if (drop > 0) ring.lines.splice(0, drop)
  }

  /** One console frame to one panel, with the lines it missed since the last one that got through. */
  function sendLines (t: StreamTarget, serverId: string, lines: readonly string[], replay: boolean): void {
    if (t.closed) return
    const w = watchOf(t)
    const missed = w.dropped.get(serverId) ?? 0
    const frame = JSON.stringify({ type: 'console', serverId, lines, ...(replay ? { replay: true } : {}), ...(missed > 0 ? { dropped: missed } : {}) })
    if (t.sendEphemeral(`console:${serverId}`, frame)) w.dropped.delete(serverId)
    else {
      w.dropped.set(serverId, missed + lines.length)
      droppedLines += lines.length
    }
  }

  function emitStats (serverId: string, frame: string): void {
    statsSentAt.set(serverId, now())
    for (const t of statsWatchers.get(serverId) ?? []) if (!t.closed) t.sendEphemeral(`stats:${serverId}`, frame)
    relay?.stats(serverId, frame)
  }
  // Checks the waiting servers ten times per period, only while some wait.
  let ticker: Timer | undefined
  const tick = () => {
    ticker = undefined
    if (stopped) return
    const due = now() - statsEveryMs
    for (const serverId of dirtyStats) {
      if ((statsSentAt.get(serverId) ?? -Infinity) > due) continue
      dirtyStats.delete(serverId)
      const frame = latestStats.get(serverId)
      if (frame !== undefined) emitStats(serverId, frame)
    }
    if (dirtyStats.size > 0) ticker = setTimer(tick, statsEveryMs / 10)
  }

  return {
    console (msg, startsReplay) {
      if (msg.replay === true) {
        if (startsReplay) rings.delete(msg.serverId)
        append(msg.serverId, msg.lines)
        return
      }
      append(msg.serverId, msg.lines)
      for (const t of consoleWatchers.get(msg.serverId) ?? []) sendLines(t, msg.serverId, msg.lines, false)
      relay?.lines(msg.serverId, msg.lines)
    },
    stats (msg) {
      const frame = JSON.stringify(msg)
      latestStats.set(msg.serverId, frame)
      if (now() - (statsSentAt.get(msg.serverId) ?? -Infinity) >= statsEveryMs) {
        dirtyStats.delete(msg.serverId)
        emitStats(msg.serverId, frame)
      } else {
        dirtyStats.add(msg.serverId)
        if (ticker === undefined && !stopped) ticker = setTimer(tick, statsEveryMs / 10)
      }
    },
    remoteConsole (serverId, lines, replay) {
      if (replay) {
        for (const t of awaitingReplay.get(serverId) ?? []) if (consoleWatchers.get(serverId)?.has(t) === true) sendLines(t, serverId, lines, true)
        return
      }
      awaitingReplay.delete(serverId)
      for (const t of consoleWatchers.get(serverId) ?? []) sendLines(t, serverId, lines, false)
    },
    remoteStats (serverId, frame) {
      for (const t of statsWatchers.get(serverId) ?? []) if (!t.closed) t.sendEphemeral(`stats:${serverId}`, frame)
    },
    subscribe (t, serverIds, what) {
      const w = watchOf(t)
      for (const id of serverIds) {
        if (what.console === true && !w.console.has(id)) {
          w.console.add(id)
          add(consoleWatchers, id, t)
          const lines = rings.get(id)?.lines ?? []
          for (let i = 0; i < lines.length; i += REPLAY_FRAME_LINES) sendLines(t, id, lines.slice(i, i + REPLAY_FRAME_LINES), true)
          if (lines.length === 0 && relay !== undefined) {
            let set = awaitingReplay.get(id)
            if (set === undefined) awaitingReplay.set(id, set = new Set())
            set.add(t)
          }
          relay?.interest(id, 'console', true, lines.length === 0)
        }
        if (what.stats === true && !w.stats.has(id)) {
          w.stats.add(id)
          add(statsWatchers, id, t)
          relay?.interest(id, 'stats', true, false)
          const frame = latestStats.get(id)
          if (frame !== undefined) t.sendEphemeral(`stats:${id}`, frame)
        }
      }
    },
    unsubscribe (t, serverIds, what) {
      const w = watching.get(t)
      if (w === undefined) return
      for (const id of serverIds) {
        if (what.console === true && w.console.delete(id)) { remove(consoleWatchers, id, t); w.dropped.delete(id); stopAwaiting(id, t) }
        if (what.stats === true && w.stats.delete(id)) remove(statsWatchers, id, t)
      }
    },
    watchedConsoles: t => [...(watching.get(t)?.console ?? [])],
    detach (t) {
      const w = watching.get(t)
      if (w === undefined) return
      for (const id of w.console) { remove(consoleWatchers, id, t); stopAwaiting(id, t) }
      for (const id of w.stats) remove(statsWatchers, id, t)
      watching.delete(t)
    },
    lines: serverId => [...(rings.get(serverId)?.lines ?? [])],
    forget (serverId) {
      rings.delete(serverId)
      latestStats.delete(serverId)
      statsSentAt.delete(serverId)
      dirtyStats.delete(serverId)
      awaitingReplay.delete(serverId)
      for (const t of consoleWatchers.get(serverId) ?? []) {
        const w = watching.get(t)
        w?.console.delete(serverId)
        w?.dropped.delete(serverId)
        remove(consoleWatchers, serverId, t)
      }
      for (const t of statsWatchers.get(serverId) ?? []) {
        watching.get(t)?.stats.delete(serverId)
        remove(statsWatchers, serverId, t)
      }
      // A panel left watching nothing holds no entry (it may subscribe again: watchOf recreates it).
      for (const [t, w] of watching) if (w.console.size === 0 && w.stats.size === 0 && w.dropped.size === 0) watching.delete(t)
    },
    known: () => [...new Set([...rings.keys(), ...latestStats.keys(), ...consoleWatchers.keys(), ...statsWatchers.keys()])],
    counts: () => ({
      rings: rings.size,
      stats: latestStats.size,
      watched: new Set([...consoleWatchers.keys(), ...statsWatchers.keys()]).size,
      panels: watching.size,
      droppedLines
    }),
    latestStats: serverId => latestStats.get(serverId),
    stop () {
      stopped = true
      ticker?.cancel()
    }
  }
}
