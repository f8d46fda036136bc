// The hub's own per-line code without sockets (bench/console-path.ts --inproc): console frames as
// the gateway gets them (Buffers) into a real agent session (connection kernel, frame meter, stream
// budget, decode, validation) and a real console hub, whose watchers are panels that take every
// frame. What ws, the streams and the syscalls cost is left out, and so is most of the machine's
// noise: CPU time per frame over many frames. Runs the modules of the tree named by BENCH_TREE, so
// a baseline checkout is measured by the same code.
import { pathToFileURL } from 'node:url'
import path from 'node:path'

const tree = process.env.BENCH_TREE ?? path.resolve(import.meta.dirname, '../..')
const FRAMES = Number(process.env.BENCH_FRAMES ?? 400_000)
const mod = async (file: string) => await import(pathToFileURL(path.join(tree, file)).href)
const { createAgentSession } = await mod('src/hub/agents/agent-session.ts')
const { createConsoleHub } = await mod('src/hub/console/console-hub.ts')
const { createFrameMeter } = await mod('src/hub/connection/frame-meter.ts')

const SERVERS = 400
const hex = (n: number, w: number) => n.toString(16).padStart(w, '0')
const servers = Array.from({ length: SERVERS }, (_, i) => `${hex(i, 8)}-0000-4000-8000-${hex(i, 12)}`)
const noTimer = { cancel () {} }
let now = 0
const transport = { send () {}, flush () {}, close () {}, ping () {}, bufferedAmount: () => 0 }
const hub = createConsoleHub({ setTimer: () => noTimer })
let delivered = 0
const panels = servers.map(() => ({ closed: false, sendEphemeral: (_key: string, frame: string) => { delivered += frame.length > 0 ? 1 : 0; return true } }))
servers.forEach((id, i) => hub.subscribe(panels[i], [id], { console: true }))
const session = createAgentSession({
  nodeId: 'node-1',
  transport,
  frames: createFrameMeter(),
  limits: { heartbeatMs: 1e9, helloTimeoutMs: 1e9, maxFrameBytes: 65_536, ratePerSecond: 100, burst: 100, maxBadFrames: 3, maxLimitedFrames: 10, maxBufferedBytes: 1e9, ephemeralBytes: 0, streamRatePerSecond: 1e12 },
  now: () => now,
  setTimer: () => noTimer,
  features: ['console'],
  stream: (msg: { serverId: string, lines: string[] }) => hub.console(msg, false),
  hello: async () => ({ lastSeq: Object.fromEntries(servers.map(id => [id, 0])), foreign: [] }),
  submit: async () => ({ ok: true }),
  log: { warn () {} }
})
session.onFrame(JSON.stringify({ type: 'hello', protocol: 1, agentVersion: 'bench', servers: [], features: ['console'] }), false)
await new Promise(resolve => setImmediate(resolve))

// The agent client's frames: one ~80-byte line each, as in bench/console.ts.
const frames = Array.from({ length: 4_096 }, (_, i) => Buffer.from(JSON.stringify({
  type: 'console', serverId: servers[i % SERVERS], lines: [`${i} ${(1.7e12 + i).toFixed(3)} ${'x'.repeat(60)}`]
})))
const run = (n: number) => { for (let i = 0; i < n; i++) { now += 0.01; session.onFrame(frames[i & 4095] as Buffer, false) } }
run(FRAMES / 4) // warm-up: let the JIT settle
delivered = 0
const c0 = process.cpuUsage()
run(FRAMES)
const c = process.cpuUsage(c0)
if (delivered !== FRAMES) throw new Error(`${delivered} of ${FRAMES} frames reached a panel`)
process.stdout.write(JSON.stringify({ usPerFrame: (c.user + c.system) / FRAMES }) + '\n')
