// The node agent under load: one agent daemon (src/agent/main.ts, a child process, so its CPU and
// RSS are its own) supervising N fixture game servers (test/fixtures/game-server.sh), driven by a
// hand-played hub in this process (protocol 1.1 frames over a real WebSocket; no PostgreSQL).
// Measures: START -> RUNNING latency with the fixture's "Done" delay subtracted, one server at a
// time and N at once; the agent's CPU and RSS while N servers idle (stats flowing every second);
// N STOPs at once. Writes bench/results/agent.md.
//
//   node bench/agent.ts [servers=100] [idleSeconds=30]
import { spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { cpus, loadavg, tmpdir, totalmem } from 'node:os'
import path from 'node:path'
import { WebSocketServer, type WebSocket } from 'ws'

const SERVERS = Number(process.argv[2] ?? 100)
const IDLE_S = Number(process.argv[3] ?? 30)
const DONE_DELAY_S = 1
const ROOT = path.resolve(import.meta.dirname, '..')
const GAME = path.join(ROOT, 'test/fixtures/game-server.sh')

type Frame = Record<string, unknown>
const waiters = new Set<(f: Frame) => boolean>()
let socket: WebSocket | undefined

function onFrame (f: Frame): void {
  if (f.type === 'status') socket?.send(JSON.stringify({ type: 'status.ack', serverId: f.serverId, seq: f.seq }))
  for (const w of [...waiters]) if (w(f)) waiters.delete(w)
}

/** Resolves when `count` frames matched, or rejects after `ms`. */
function collect (match: (f: Frame) => boolean, count: number, ms: number): Promise<Array<{ f: Frame, at: number }>> {
  const got: Array<{ f: Frame, at: number }> = []
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { waiters.delete(w); reject(new Error(`only ${got.length} of ${count} frames`)) }, ms)
    const w = (f: Frame): boolean => {
      if (!match(f)) return false
      got.push({ f, at: performance.now() })
      if (got.length < count) return false
      clearTimeout(timer)
      resolve(got)
      return true
    }
    waiters.add(w)
  })
}

function send (msg: Frame): void { socket?.send(JSON.stringify(msg)) }
function command (serverId: string, action: string): Frame {
  const now = Date.now()
  return { type: 'command', commandId: randomUUID(), serverId, action, issuedAt: new Date(now).toISOString(), expiresAt: new Date(now + 120_000).toISOString() }
}

function usage (pid: number): { cpuS: number, rssMb: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1')
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'latin1'))?.[1] ?? '0'
  return { cpuS: (Number(f[11]) + Number(f[12])) / 100, rssMb: Number(rss) / 1024 }
}

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN
}
const ms = (n: number): string => `${Math.round(n)} ms`

const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 })
await new Promise((resolve) => wss.once('listening', resolve))
const dataDir = mkdtempSync(path.join(tmpdir(), 'agent-bench-'))
chmodSync(dataDir, 0o711)
const hello = collect((f) => f.type === 'hello', 1, 30_000)
const agent = spawn(process.execPath, [path.join(ROOT, 'src/agent/main.ts')], {
  env: {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '/',
    LOG_LEVEL: 'warn',
    AGENT_HUB_URL: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/agent/v1`,
    AGENT_TOKEN: 'bench-token-0123456789abcdef',
    AGENT_DATA_DIR: dataDir
  },
  stdio: ['ignore', 'inherit', 'inherit']
})
const connected = new Promise<void>((resolve) => {
  wss.on('connection', (ws) => {
    socket = ws
    ws.on('message', (data) => onFrame(JSON.parse(data.toString()) as Frame))
    resolve()
  })
})
const ids: string[] = Array.from({ length: SERVERS }, () => randomUUID())
/** Whatever still runs (a failed run) is found through the agent's own records and killed. */
const cleanup = (): void => {
  agent.kill('SIGKILL')
  for (const id of ids) {
    try {
      const state = JSON.parse(readFileSync(path.join(dataDir, 'run', id, 'state.json'), 'utf8')) as { process?: { pid: number } }
      if (state.process !== undefined) process.kill(-state.process.pid, 'SIGKILL')
    } catch {}
  }
  rmSync(dataDir, { recursive: true, force: true })
}

try {
  await connected
  await hello
  send({ type: 'welcome', protocol: 1, nodeId: randomUUID(), heartbeatMs: 30_000, lastSeq: {}, features: ['provision', 'console', 'stats'] })
  const acks = collect((f) => f.type === 'server.config.ack', SERVERS, 30_000)
  for (const [i, serverId] of ids.entries()) {
    send({
      type: 'server.config',
      serverId,
      revision: 1,
      name: `bench-${i}`,
      port: 30_000 + i,
      startup: `/bin/sh ${GAME}`,
      stop: { type: 'command', value: 'stop', graceS: 10 },
      doneRegex: '^Done \\(',
      environment: { DONE_DELAY: String(DONE_DELAY_S) },
      autoRestart: { enabled: false, maxRestarts: 0, windowS: 60 }
    })
  }
  await acks

  // One server at a time: the agent's own overhead, uncontended.
  const single: number[] = []
  const first = ids[0] as string
  for (let i = 0; i < 5; i++) {
    const running = collect((f) => f.type === 'status' && f.serverId === first && f.status === 'RUNNING', 1, 30_000)
    const t0 = performance.now()
    send(command(first, 'START'))
    single.push((await running)[0]!.at - t0 - DONE_DELAY_S * 1000)
    const stopped = collect((f) => f.type === 'status' && f.serverId === first && f.status === 'STOPPED', 1, 30_000)
    send(command(first, 'STOP'))
    await stopped
  }

  // All at once.
  const running = collect((f) => f.type === 'status' && f.status === 'RUNNING', SERVERS, 120_000)
  const burstBefore = usage(agent.pid as number)
  const t0 = performance.now()
  for (const id of ids) send(command(id, 'START'))
  const all = (await running).map((r) => r.at - t0 - DONE_DELAY_S * 1000)
  const burstCpuS = usage(agent.pid as number).cpuS - burstBefore.cpuS
  const lastRunning = Math.max(...all) + DONE_DELAY_S * 1000

  // Idle: N servers running, stats every second.
  await new Promise((resolve) => setTimeout(resolve, 3_000)) // settle
  const before = usage(agent.pid as number)
  const tIdle = performance.now()
  let statsCount = 0
  const counter = (f: Frame): boolean => { if (f.type === 'stats') statsCount++; return false }
  waiters.add(counter)
  await new Promise((resolve) => setTimeout(resolve, IDLE_S * 1000))
  waiters.delete(counter)
  const after = usage(agent.pid as number)
  const idleS = (performance.now() - tIdle) / 1000

  const stopped = collect((f) => f.type === 'status' && f.status === 'STOPPED', SERVERS, 120_000)
  const t1 = performance.now()
  for (const id of ids) send(command(id, 'STOP'))
  const stops = (await stopped).map((r) => r.at - t1)

  const cpu = cpus()
  const result = `# Node agent: ${SERVERS} fixture game servers on one agent

Measured ${new Date().toISOString().slice(0, 10)} on ${cpu.length} × ${cpu[0]?.model.trim() ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB,
Node ${process.version}, load average before the run ${loadavg().map((l) => l.toFixed(2)).join(' ')} (shared, noisy machine: other
work ran at the same time). Script: \`node bench/agent.ts ${SERVERS} ${IDLE_S}\`. The agent (\`src/agent/main.ts\`, run as
${process.getuid?.() === 0 ? 'root, games as the unprivileged game user' : 'a normal user'}) is a child process; the hub is played by
the script over a real WebSocket (no PostgreSQL). Each fixture (\`test/fixtures/game-server.sh\`) prints "Done" after
${DONE_DELAY_S} s; latencies below have that delay subtracted (START sent -> RUNNING status received).

| measurement | p50 | p95 | max |
| --- | --- | --- | --- |
| START -> RUNNING, one server alone (5 runs) | ${ms(pct(single, 50))} | ${ms(pct(single, 95))} | ${ms(Math.max(...single))} |
| START -> RUNNING, ${SERVERS} started at once | ${ms(pct(all, 50))} | ${ms(pct(all, 95))} | ${ms(Math.max(...all))} |
| STOP -> STOPPED, ${SERVERS} at once (command "stop" on the console) | ${ms(pct(stops, 50))} | ${ms(pct(stops, 95))} | ${ms(Math.max(...stops))} |

All ${SERVERS} were RUNNING ${ms(lastRunning)} after the START burst began; the agent itself used ${burstCpuS.toFixed(2)} s of CPU
for the whole burst, so most of the wait is the machine creating ${SERVERS} process trees (each fixture runs \`sh -c\`, \`sh\`,
\`id\` and \`sleep\`) while shared with other work.

| ${SERVERS} servers idle, ${Math.round(idleS)} s | value |
| --- | --- |
| agent CPU | ${((after.cpuS - before.cpuS) / idleS * 100).toFixed(1)} % of one core |
| agent RSS | ${after.rssMb.toFixed(0)} MiB |
| stats frames sent | ${(statsCount / idleS).toFixed(0)}/s |
`
  writeFileSync(path.join(ROOT, 'bench/results/agent.md'), result)
  process.stdout.write(result)
} finally {
  cleanup()
  wss.close()
}
