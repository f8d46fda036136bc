// The cold restart storm of bench/connections.ts: every agent connected to a hub, the hub stopped
// (its agents get 1001), a new hub process started on the same port, and every agent opening its
// socket again at the same moment once that hub listens, with no retry and no client-side
// spreading (bare `ws`, see agent-worker.ts `storm`). Once per listen backlog asked for, in one run.
// Also what the agent client's reconnect backoff (agent-simulator/backoff.ts) adds on top, by
// running its real delay function over the same number of agents.
import { readFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { backoffDelay, DEFAULT_BACKOFF } from '../../agent-simulator/backoff.ts'
import type { BenchAgent, Fixture } from './fixture.ts'
import { percentiles, sleep, sumCounts } from './report.ts'
import { spawnChild, type Child } from './rpc.ts'

export interface StormRun {
  /** What HUB_LISTEN_BACKLOG was (undefined: the default) and what the hub listened with. */
  asked?: number
  backlog: number
  agents: number
  upgraded: number[]
  welcomed: number[]
  failures: Record<string, number>
  /** Time from the hub's SIGTERM-equivalent close to its process exit, agents connected. */
  stopMs?: number
  loadBefore: string
  loadAfter: string
}

const loadavg = async () => (await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ')

async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

type Worker = Child<unknown>
type Hub = Child<{ url: string, backlog: number }>

/**
 * `backlogs`: one storm per entry, in this order, each against a fresh hub process started
 * right after the previous one stopped with every agent connected (the first storm follows a
 * setup connect to a hub with the default backlog). `undefined` means HUB_LISTEN_BACKLOG unset.
 */
export async function restartStorms (fixture: Fixture, slices: BenchAgent[][], hubScript: string, workerScript: string,
  backlogs: Array<number | undefined>, timeoutMs: number, log: (msg: string) => void): Promise<{ setup: StormRun, runs: StormRun[] }> {
  const port = await freePort()
  const startHub = async (asked: number | undefined): Promise<{ hub: Hub, url: string, backlog: number }> => {
    const env: Record<string, string> = { DATABASE_URL: fixture.databaseUrl, HUB_AGENT_KEYS: fixture.agentKeys, HUB_ISSUER: 'hub', HUB_PORT: String(port) }
    if (asked !== undefined) env.HUB_LISTEN_BACKLOG = String(asked)
    const hub: Hub = spawnChild(hubScript, { BENCH_HUB: JSON.stringify({ env }) })
    const { url, backlog } = await hub.ready
    return { hub, url, backlog }
  }
  const workers: Worker[] = slices.map(() => spawnChild(workerScript, {}))
  await Promise.all(workers.map(async w => await w.ready))
  const storm = async (url: string, asked: number | undefined, backlog: number): Promise<StormRun> => {
    await Promise.all(workers.map(async (w, i) => await w.call('setup', { url, agents: slices[i] })))
    const loadBefore = await loadavg()
    const results = await Promise.all(workers.map(async w =>
      await w.call<{ upgraded: number[], welcomed: number[], failures: Record<string, number> }>('storm', { timeoutMs }, timeoutMs + 60_000)))
    return {
      asked,
      backlog,
      agents: slices.reduce((n, s) => n + s.length, 0),
      upgraded: results.flatMap(r => r.upgraded),
      welcomed: results.flatMap(r => r.welcomed),
      failures: sumCounts(results.map(r => r.failures)),
      loadBefore,
      loadAfter: await loadavg()
    }
  }
  /** Stops the hub with its agents connected, and waits until every agent saw its socket close. */
  const stop = async (hub: Hub): Promise<number> => {
    const t0 = performance.now()
    await hub.call('close', undefined, 60_000)
    await hub.stop()
    const stopMs = performance.now() - t0
    for (let waited = 0; ; waited += 200) {
      const open = (await Promise.all(workers.map(async w => await w.call<number>('rawOpen')))).reduce((a, b) => a + b, 0)
      if (open === 0) break
      if (waited > 30_000) throw new Error(`${open} agent sockets still open 30 s after the hub stopped`)
      await sleep(200)
    }
    await Promise.all(workers.map(async w => await w.call('closeRaw')))
    return stopMs
  }

  let current = await startHub(undefined)
  try {
    log(`restart: setup, ${slices.flat().length} agents onto a hub (backlog ${current.backlog}) on port ${port}`)
    const setup = await storm(current.url, undefined, current.backlog)
    const runs: StormRun[] = []
    for (const asked of backlogs) {
      const stopMs = await stop(current.hub)
      current = await startHub(asked)
      log(`restart: hub restarted with backlog ${current.backlog}${asked === undefined ? ' (default)' : ''}; every agent connects now`)
      const run = await storm(current.url, asked, current.backlog)
      run.stopMs = stopMs
      const w = percentiles(run.welcomed)
      log(`restart: backlog ${run.backlog}: ${run.welcomed.length} welcomed, p50 ${(w.p50 / 1000).toFixed(2)} s, p99 ${(w.p99 / 1000).toFixed(2)} s, max ${(w.max / 1000).toFixed(2)} s`)
      runs.push(run)
    }
    await stop(current.hub)
    return { setup, runs }
  } finally {
    await current.hub.stop().catch(() => {})
    await Promise.all(workers.map(async w => await w.stop()))
  }
}

/**
 * What the agent client's backoff adds after a restart that kept the hub away `downtimeMs`:
 * each agent retries at its backoff delays (an attempt while the hub is down fails at once and
 * doubles the next ceiling), and the figure is how long after the hub is back each agent's first
 * attempt comes. Simulated with the client's own delay function, for `agents` agents.
 */
export function backoffAfterRestart (downtimeMs: number, agents: number, random: () => number = Math.random) {
  const late: number[] = []
  for (let i = 0; i < agents; i++) {
    let t = 0
    for (let attempt = 0; ; attempt++) {
      t += backoffDelay(attempt, DEFAULT_BACKOFF, random)
      if (t >= downtimeMs) break
    }
    late.push(t - downtimeMs)
  }
  return percentiles(late)
}
