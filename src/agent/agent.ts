// The node agent composed: game user, memory limiter, supervisor, hub link, stats sampler and the
// /proc memory watch. main.ts is the only caller that reads the environment and handles signals.
import { readFileSync } from 'node:fs'
import type { BackoffOptions } from '../../agent-simulator/backoff.ts'
import type { AgentConfig } from './config.ts'
import { createHubLink, type HubLink } from './hub-link.ts'
import { createMemoryLimiter, defaultCgroupRoot, type MemoryLimiter } from './memory-limit.ts'
import type { Owner } from './paths.ts'
import { DEFAULT_TIMING } from './server-unit.ts'
import { createStatsSampler, type SampleTarget, type ServerSample, type StatsSampler } from './stats.ts'
import { createSupervisor, type Supervisor } from './supervisor.ts'
import type { AgentLogger } from './types.ts'
import { ensureGameUser } from './users.ts'

export const AGENT_VERSION = `game-panel-agent/${readVersion()}`

function readVersion (): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown }
    return typeof pkg.version === 'string' ? pkg.version.slice(0, 32) : '0'
  } catch {
    return '0'
  }
}

export interface AgentOptions {
  config: AgentConfig
  log: AgentLogger
  /** Defaults to the process's: root runs games as config.gameUser. */
  isRoot?: boolean
  onTerminal?: (reason: string) => void
  onWelcome?: (info: { url: string, nodeId: string, features: string[] }) => void
  /** Reconnect delays (tests shorten them). */
  backoff?: BackoffOptions
}

export interface Agent {
  readonly supervisor: Supervisor
  readonly link: HubLink
  readonly memory: MemoryLimiter
  readonly runAs: Owner | undefined
  /** Stops talking to the hub and watching; the games keep running. */
  close (): Promise<void>
}

export function startAgent (options: AgentOptions): Agent {
  const { config, log } = options
  const isRoot = options.isRoot ?? process.getuid?.() === 0
  const runAs = isRoot ? ensureGameUser(config.gameUser) : undefined
  const memory = createMemoryLimiter(config.cgroupRoot ?? defaultCgroupRoot(isRoot), log)
  log.info({ mode: memory.mode, runAs: isRoot ? config.gameUser : '(the agent\'s own user)', dataDir: config.dataDir }, 'agent starting')
  // The link is created after the supervisor, which reports through it: forward lazily.
  const out: { link?: HubLink } = {}
  const supervisor = createSupervisor({
    dataDir: config.dataDir,
    ...(runAs === undefined ? {} : { runAs }),
    log,
    timing: { ...DEFAULT_TIMING, killAfterTermMs: config.killAfterTermMs, maxLogBytes: config.maxLogBytes },
    memory,
    onStatus: (serverId, entry) => out.link?.sendStatus(serverId, entry),
    onConsole: (serverId, lines) => out.link?.sendConsole(serverId, lines)
  })
  supervisor.init()
  const link = createHubLink({
    urls: config.hubUrls,
    token: config.token,
    agentVersion: AGENT_VERSION,
    log,
    handler: {
      snapshot: () => supervisor.snapshot(),
      welcomed: (lastSeq) => supervisor.welcomed(lastSeq),
      acked: (serverId, seq) => supervisor.acked(serverId, seq),
      execute: (cmd) => supervisor.execute(cmd),
      applyConfig: (raw) => supervisor.applyConfig(raw),
      remove: (serverId) => supervisor.remove(serverId),
      replay: () => supervisor.serverIds()
        .map((serverId) => ({ serverId, lines: supervisor.recentConsole(serverId) }))
        .filter((r) => r.lines.length > 0)
    },
    ...(options.onTerminal === undefined ? {} : { onTerminal: options.onTerminal }),
    ...(options.onWelcome === undefined ? {} : { onWelcome: options.onWelcome }),
    ...(options.backoff === undefined ? {} : { backoff: options.backoff })
  })

  out.link = link

  function targets (): SampleTarget[] {
    const list: SampleTarget[] = []
    for (const serverId of supervisor.serverIds()) {
      const unit = supervisor.unit(serverId)
      if (unit?.pid === undefined || unit.status === 'INSTALLING') continue
      const limitMb = unit.memoryLimitMb
      list.push({ serverId, pid: unit.pid, workDir: supervisor.workDir(serverId), ...(limitMb === undefined ? {} : { memoryLimitBytes: limitMb * 1024 * 1024 }) })
    }
    return list
  }

  function onSamples (samples: ServerSample[]): void {
    for (const s of samples) {
      if (memory.mode === 'watch' && s.memoryLimitBytes !== undefined && s.memoryBytes > s.memoryLimitBytes) {
        const mib = (n: number): number => Math.round(n / 1024 / 1024)
        log.warn({ serverId: s.serverId, memoryBytes: s.memoryBytes }, 'memory limit exceeded: killing the server')
        supervisor.unit(s.serverId)?.memoryExceeded(
          `memory limit exceeded: ${mib(s.memoryBytes)} MiB used of ${mib(s.memoryLimitBytes)} MiB (watched by the agent in /proc; killed with SIGKILL)`)
      }
      link.sendStats(s)
    }
  }

  const sampler: StatsSampler = createStatsSampler({
    targets, onSample: onSamples, intervalMs: config.statsIntervalMs, diskIntervalMs: config.diskIntervalMs
  })
  link.start()

  return {
    supervisor,
    link,
    memory,
    runAs,
    async close () {
      sampler.close()
      await link.close()
      supervisor.close()
    }
  }
}
