// Memory limits of game servers. With a writable cgroup v2 hierarchy that offers the memory
// controller, each server gets its own cgroup with memory.max: the kernel enforces it. Otherwise
// the agent watches the process tree's summed RSS in /proc (stats.ts samples it every second) and
// kills the process group with a reason when it goes over. An address-space rlimit (RLIMIT_AS) is
// never used: JVMs reserve far more address space than they touch and refuse to start under one.
import { mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import type { AgentLogger } from './types.ts'

export type MemoryMode = 'cgroup' | 'watch'

export interface MemoryLimiter {
  readonly mode: MemoryMode
  /** Puts `pid` under `limitMb` (cgroup mode); a no-op in watch mode. */
  apply (serverId: string, pid: number, limitMb: number | undefined): void
  /** Removes a server's cgroup (after its processes ended). */
  release (serverId: string): void
  /** How many processes of the server the kernel's OOM killer ended so far (0 in watch mode). */
  oomKills (serverId: string): number
}

/** `root` is a cgroup v2 directory the agent may manage (AGENT_CGROUP_ROOT). */
export function createMemoryLimiter (root: string | undefined, log: AgentLogger): MemoryLimiter {
  const usable = root !== undefined && setUp(root, log)
  if (!usable) {
    return { mode: 'watch', apply () {}, release () {}, oomKills: () => 0 }
  }
  return {
    mode: 'cgroup',
    apply (serverId, pid, limitMb) {
      const dir = path.join(root, serverId)
      makeDir(dir)
      writeFileSync(path.join(dir, 'memory.max'), limitMb === undefined ? 'max' : String(limitMb * 1024 * 1024))
      try {
        writeFileSync(path.join(dir, 'memory.swap.max'), limitMb === undefined ? 'max' : '0')
      } catch {} // no swap accounting on this kernel
      // The process moves right after spawn: a child it forked in the first instant stays outside.
      writeFileSync(path.join(dir, 'cgroup.procs'), String(pid))
    },
    release (serverId) {
      try {
        rmdirSync(path.join(root, serverId))
      } catch {}
    },
    oomKills (serverId) {
      try {
        const events = readFileSync(path.join(root, serverId, 'memory.events'), 'utf8')
        return Number(/^oom_kill (\d+)$/m.exec(events)?.[1] ?? 0)
      } catch {
        return 0
      }
    }
  }
}

function setUp (root: string, log: AgentLogger): boolean {
  try {
    makeDir(root)
    const controllers = readFileSync(path.join(root, 'cgroup.controllers'), 'utf8').split(/\s+/)
    if (!controllers.includes('memory')) {
      log.info({ root }, 'cgroup v2 memory controller not available here: memory limits are watched from /proc')
      return false
    }
    writeFileSync(path.join(root, 'cgroup.subtree_control'), '+memory')
    log.info({ root }, 'memory limits enforced by cgroup v2')
    return true
  } catch (err) {
    log.info({ root, err: (err as Error).message }, 'cgroup v2 not writable: memory limits are watched from /proc')
    return false
  }
}

/**
 * mkdir of one level, tolerating EEXIST. Not `recursive: true`: Node's recursive mkdir spins
 * forever on some pseudo file systems (seen with a path under /proc), and a cgroup root's parent
 * must exist anyway.
 */
function makeDir (dir: string): void {
  try {
    mkdirSync(dir)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
  }
}

/** The default cgroup root: a child of the cgroup v2 mount, as root only. */
export function defaultCgroupRoot (isRoot: boolean): string | undefined {
  if (!isRoot) return undefined
  try {
    readFileSync('/sys/fs/cgroup/cgroup.controllers', 'utf8')
    return '/sys/fs/cgroup/game-panel-agent'
  } catch {
    return undefined
  }
}
