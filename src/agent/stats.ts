// Resource use of each running server, sampled from /proc about once a second: CPU % (100 = one
// core) and summed RSS of its whole process tree, uptime since its process started, and the disk
// use of its working folder (walked far less often, one walk at a time, without following
// symlinks). The same sample drives the /proc memory watch when cgroups are not available.
import { lstat, opendir } from 'node:fs/promises'
import path from 'node:path'
import { CLOCK_TICKS, PAGE_SIZE, listProcesses, processGroupOf, startTimeMs } from './proc.ts'

export interface SampleTarget {
  serverId: string
  pid: number
  workDir: string
  memoryLimitBytes?: number
}

export interface ServerSample {
  serverId: string
  at: string
  cpuPercent: number
  memoryBytes: number
  memoryLimitBytes?: number
  diskBytes?: number
  uptimeMs: number
}

export interface StatsSampler {
  /** One sample of every target now (the interval calls it too). */
  sample (): ServerSample[]
  close (): void
}

export interface StatsOptions {
  targets: () => SampleTarget[]
  onSample: (samples: ServerSample[]) => void
  intervalMs?: number
  diskIntervalMs?: number
  now?: () => number
}

/** Entries a disk walk visits at most: a folder of millions of files must not stall the agent. */
const MAX_WALK_ENTRIES = 200_000

export function createStatsSampler (options: StatsOptions): StatsSampler {
  const { intervalMs = 1_000, diskIntervalMs = 60_000, now = Date.now } = options
  const previous = new Map<string, { pid: number, ticks: number, atMs: number }>()
  const disk = new Map<string, { bytes: number, atMs: number }>()
  let walking = false

  function sample (): ServerSample[] {
    const targets = options.targets()
    if (targets.length === 0) return []
    const all = listProcesses()
    const at = now()
    const samples: ServerSample[] = []
    for (const t of targets) {
      const group = processGroupOf(t.pid, all)
      const root = group.find((p) => p.pid === t.pid)
      if (root === undefined) continue
      let ticks = 0
      let rss = 0
      for (const p of group) {
        ticks += p.cpuTicks
        rss += p.rssPages
      }
      const prev = previous.get(t.serverId)
      const cpuPercent = prev === undefined || prev.pid !== t.pid || at <= prev.atMs
        ? 0
        : Math.max(0, ((ticks - prev.ticks) / CLOCK_TICKS) / ((at - prev.atMs) / 1000) * 100)
      previous.set(t.serverId, { pid: t.pid, ticks, atMs: at })
      const s: ServerSample = {
        serverId: t.serverId,
        at: new Date(at).toISOString(),
        cpuPercent: Math.round(cpuPercent * 10) / 10,
        memoryBytes: rss * PAGE_SIZE,
        uptimeMs: Math.max(0, Math.round(at - startTimeMs(root.startTime)))
      }
      if (t.memoryLimitBytes !== undefined) s.memoryLimitBytes = t.memoryLimitBytes
      const d = disk.get(t.serverId)
      if (d !== undefined) s.diskBytes = d.bytes
      samples.push(s)
    }
    for (const id of previous.keys()) if (!targets.some((t) => t.serverId === id)) previous.delete(id)
    walkNext(targets, at)
    return samples
  }

  function walkNext (targets: SampleTarget[], at: number): void {
    if (walking) return
    const due = targets.find((t) => (disk.get(t.serverId)?.atMs ?? 0) <= at - diskIntervalMs)
    if (due === undefined) return
    walking = true
    diskUsage(due.workDir).then((bytes) => {
      disk.set(due.serverId, { bytes, atMs: now() })
    }, () => {
      disk.set(due.serverId, { bytes: disk.get(due.serverId)?.bytes ?? 0, atMs: now() })
    }).finally(() => { walking = false })
  }

  const timer = setInterval(() => {
    try {
      options.onSample(sample())
    } catch {}
  }, intervalMs)
  timer.unref()

  return {
    sample,
    close: () => clearInterval(timer)
  }
}

/** Bytes allocated on disk under `dir` (blocks, as du counts), symlinks not followed. */
export async function diskUsage (dir: string): Promise<number> {
  let total = 0
  let visited = 0
  const stack = [dir]
  while (stack.length > 0 && visited < MAX_WALK_ENTRIES) {
    const current = stack.pop() as string
    let handle
    try {
      handle = await opendir(current)
    } catch {
      continue
    }
    for await (const entry of handle) {
      if (++visited > MAX_WALK_ENTRIES) break
      const full = path.join(current, entry.name)
      try {
        const st = await lstat(full)
        total += st.blocks * 512
        if (entry.isDirectory()) stack.push(full)
      } catch {}
    }
  }
  return total
}
