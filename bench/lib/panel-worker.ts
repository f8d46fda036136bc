// A load-generator process holding panel connections (the simulator's panel client, header auth),
// each subscribed to its own list of servers. Every `server.status` event whose `reason` carries
// a send time (bench/lib/agent-worker.ts `rate` with `stamp`) gives one latency sample: receive
// time minus send time, both read as performance.timeOrigin + performance.now() (the same clock
// in every process on this machine; bench/panel-push.ts checks the processes agree on it).
// One extra connection may be the slow reader: it subscribes in frames of 1,000 ids and stops
// reading on `pause`.
import { createPanelClient, type PanelClient } from '../../agent-simulator/panel-client.ts'
import { serve } from './rpc.ts'

const clock = () => performance.timeOrigin + performance.now()
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6 }

let url = ''
let token = ''
let lists: string[][] = []
const panels: PanelClient[] = []
let slow: PanelClient | undefined
let samples: number[] = []
let events = 0
let unstamped = 0
let recording = false

function onEvent (e: { kind: string, data: { reason?: string | null } }, receivedAt: number) {
  events++
  const sent = e.kind === 'server.status' ? Number(e.data.reason) : NaN
  if (!Number.isFinite(sent)) { unstamped++; return }
  if (recording) samples.push(receivedAt - sent)
}

serve({
  setup (arg: { url: string, token: string, lists: string[][] }) {
    ({ url, token, lists } = arg)
    return lists.length
  },
  /** Opens every panel and subscribes it; returns how long that took and the refusals. */
  async connect () {
    const started = performance.now()
    const refused: string[] = []
    await Promise.all(lists.map(async servers => {
      const p = createPanelClient({ url, token, keepFrames: false, timeoutMs: 60_000, onEvent })
      await p.connect()
      const answer = await p.subscribe({ servers })
      if (answer.type !== 'subscribed') refused.push(String(answer.code))
      panels.push(p)
    }))
    return { panels: panels.length, refused, ms: performance.now() - started }
  },
  /** The slow reader: one more panel, watching `servers` (subscribed 1,000 ids per frame). */
  async slowReader (arg: { servers: string[] }) {
    const p = createPanelClient({ url, token, keepFrames: false, timeoutMs: 60_000 })
    await p.connect()
    for (let i = 0; i < arg.servers.length; i += 1_000) {
      const answer = await p.subscribe({ servers: arg.servers.slice(i, i + 1_000) })
      if (answer.type !== 'subscribed') throw new Error(`slow reader refused: ${String(answer.code)}`)
    }
    slow = p
    return { servers: arg.servers.length }
  },
  pause () { slow?.pauseReading() },
  resume () { slow?.resumeReading() },
  slowState () {
    return slow === undefined ? null : { events: slow.state.events, resyncs: slow.state.resyncs, closed: slow.state.closed ?? null }
  },
  clock,
  mark (arg: { record: boolean }) {
    samples = []
    events = 0
    unstamped = 0
    recording = arg.record
    return { cpuSeconds: cpu() }
  },
  read () {
    const closed = panels.filter(p => p.state.closed !== undefined).length
    const orderViolations = panels.reduce((n, p) => n + p.state.orderViolations, 0)
    const resyncs = panels.reduce((n, p) => n + p.state.resyncs, 0)
    return { samples, events, unstamped, closed, orderViolations, resyncs, cpuSeconds: cpu() }
  },
  close () {
    for (const p of panels) p.terminate()
    slow?.terminate()
  }
})
