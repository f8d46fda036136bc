// A load-generator process of panels watching console and stats (bench/console.ts): each panel
// subscribes to its own servers with `console: true, stats: true`. Every live console line is
// `<seq> <send time> ...` (bench/lib/agent-worker.ts `stream`): receive time minus send time is
// one latency sample, and a seq that skips ahead of the previous one of the same server is lines
// lost on the way. Replay frames (`replay: true`) are counted, not measured. `connect` can move
// every panel to another hub (the cross-hub phase): the old connections close first.
import { createPanelClient, PanelUpgradeError, type PanelClient, type PanelFrame } from '../../agent-simulator/panel-client.ts'
import { serve } from './rpc.ts'

const clock = () => performance.timeOrigin + performance.now()
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6 }

let token = ''
let lists: string[][] = []
let panels: PanelClient[] = []
/** Per panel and server: the last seq seen (live lines only). */
let lastSeq: Array<Map<string, number>> = []
let samples: number[] = []
let recording = false
const counts = { lines: 0, replayed: 0, lost: 0, reordered: 0, dropped: 0, stats: 0 }

function onStream (panel: number, frame: PanelFrame, receivedAt: number) {
  if (frame.type === 'stats') { counts.stats++; return }
  counts.dropped += typeof frame.dropped === 'number' ? frame.dropped : 0
  if (frame.replay === true) { counts.replayed += (frame.lines as string[]).length; return }
  const seen = lastSeq[panel] as Map<string, number>
  for (const line of frame.lines as string[]) {
    const space = line.indexOf(' ')
    const seq = Number(line.slice(0, space))
    const sent = Number(line.slice(space + 1, line.indexOf(' ', space + 1)))
    const last = seen.get(frame.serverId as string)
    if (last !== undefined && seq > last + 1) counts.lost += seq - last - 1
    if (last !== undefined && seq <= last) counts.reordered++
    else seen.set(frame.serverId as string, seq)
    counts.lines++
    if (recording && Number.isFinite(sent)) samples.push(receivedAt - sent)
  }
}

serve({
  setup (arg: { token: string, lists: string[][] }) {
    ({ token, lists } = arg)
    return lists.length
  },
  /** Opens every panel on `url` (closing those open on another hub) and subscribes it. */
  async connect (arg: { url: string }) {
    for (const p of panels) p.terminate()
    panels = []
    lastSeq = lists.map(() => new Map())
    const started = performance.now()
    const refused: string[] = []
    await Promise.all(lists.map(async (servers, i) => {
      const p = createPanelClient({ url: arg.url, token, keepFrames: false, timeoutMs: 60_000, onStream: (f, at) => onStream(i, f, at) })
      // A loaded hub sheds upgrades with 503/429 (Retry-After): retried, as the web panel does.
      for (let attempt = 0; ; attempt++) {
        try {
          await p.connect()
          break
        } catch (err) {
          if (!(err instanceof PanelUpgradeError) || attempt >= 10) throw err
          await new Promise(resolve => setTimeout(resolve, 500 + Math.random() * 1_000))
        }
      }
      const answer = await p.subscribe({ servers, console: true, stats: true })
      if (answer.type !== 'subscribed') refused.push(String(answer.code))
      panels.push(p)
    }))
    return { panels: panels.length, refused, ms: performance.now() - started }
  },
  clock,
  mark (arg: { record: boolean }) {
    samples = []
    for (const k of Object.keys(counts) as Array<keyof typeof counts>) counts[k] = 0
    recording = arg.record
    return { cpuSeconds: cpu() }
  },
  read () {
    const closed = panels.filter(p => p.state.closed !== undefined).length
    const resyncs = panels.reduce((n, p) => n + p.state.resyncs, 0)
    return { samples, ...counts, closed, resyncs, cpuSeconds: cpu() }
  },
  close () {
    for (const p of panels) p.terminate()
  }
})
