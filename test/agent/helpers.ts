// Test helpers for the node agent: a supervisor over a temporary data folder whose status reports
// and console lines are recorded, with bounded waits for them (no sleeps).
import { randomUUID } from 'node:crypto'
import { chmodSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { createMemoryLimiter } from '../../src/agent/memory-limit.ts'
import type { Owner } from '../../src/agent/paths.ts'
import { DEFAULT_TIMING, type UnitTiming } from '../../src/agent/server-unit.ts'
import { createSupervisor, type Supervisor } from '../../src/agent/supervisor.ts'
import { SILENT_LOGGER, type OutboxEntry, type ServerConfig } from '../../src/agent/types.ts'

export const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures')
export const GAME = path.join(FIXTURES, 'game-server.sh')
export const HOG = path.join(FIXTURES, 'memory-hog.sh')

/** The part of tap's `t` used here. */
export interface Teardown {
  teardown (fn: () => unknown): void
}

export interface Waitable<T> {
  readonly items: T[]
  push (item: T): void
  /** Resolves with the first item (old or new) matching `match`, or rejects after `ms`. */
  wait (match: (item: T) => boolean, what: string, ms?: number): Promise<T>
}

export function waitable<T> (): Waitable<T> {
  const items: T[] = []
  const waiters = new Set<() => void>()
  return {
    items,
    push (item) {
      items.push(item)
      for (const w of [...waiters]) w()
    },
    wait (match, what, ms = 10_000) {
      return new Promise<T>((resolve, reject) => {
        const check = (): void => {
          const found = items.find(match)
          if (found === undefined) return
          waiters.delete(check)
          clearTimeout(timer)
          resolve(found)
        }
        const timer = setTimeout(() => {
          waiters.delete(check)
          reject(new Error(`timed out waiting for ${what}; seen: ${JSON.stringify(items.slice(-10))}`))
        }, ms)
        waiters.add(check)
        check()
      })
    }
  }
}

export interface StatusSeen extends OutboxEntry { serverId: string }

export interface TestNode {
  dataDir: string
  supervisor: Supervisor
  statuses: Waitable<StatusSeen>
  lines: Waitable<{ serverId: string, line: string }>
  /** Waits for the n-th (1-based, counted from now if `after` is given) report of `status`. */
  waitStatus (serverId: string, status: string, afterSeq?: number, ms?: number): Promise<StatusSeen>
  waitLine (serverId: string, pattern: RegExp, ms?: number): Promise<string>
}

/** A temporary data folder, removed at the end of the test (after everything registered later). */
export function makeDataDir (t: Teardown): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'agent-test-'))
  chmodSync(dir, 0o711) // a game user must traverse it when the test runs as root
  t.teardown(() => { setTimeout(() => rmSync(dir, { recursive: true, force: true }), 200) })
  return dir
}

export function createTestNode (t: Teardown, options: { dataDir?: string, runAs?: Owner, timing?: Partial<UnitTiming> } = {}): TestNode {
  const dataDir = options.dataDir ?? makeDataDir(t)
  const statuses = waitable<StatusSeen>()
  const lines = waitable<{ serverId: string, line: string }>()
  const supervisor = createSupervisor({
    dataDir,
    log: SILENT_LOGGER,
    timing: { ...DEFAULT_TIMING, restartDelayMs: 50, ...options.timing },
    memory: createMemoryLimiter(undefined, SILENT_LOGGER),
    ...(options.runAs === undefined ? {} : { runAs: options.runAs }),
    onStatus: (serverId, entry) => statuses.push({ serverId, ...entry }),
    onConsole: (serverId, batch) => { for (const line of batch) lines.push({ serverId, line }) }
  })
  supervisor.init()
  t.teardown(() => {
    killGames(supervisor)
    supervisor.close()
  })
  return {
    dataDir,
    supervisor,
    statuses,
    lines,
    waitStatus: (serverId, status, afterSeq = 0, ms) =>
      statuses.wait((s) => s.serverId === serverId && s.status === status && s.seq > afterSeq, `${status} (seq > ${afterSeq})`, ms),
    waitLine: async (serverId, pattern, ms) =>
      (await lines.wait((l) => l.serverId === serverId && pattern.test(l.line), `line ${pattern}`, ms)).line
  }
}

export function gameConfig (overrides: Partial<ServerConfig> = {}): ServerConfig {
  return {
    serverId: randomUUID(),
    revision: 1,
    name: 'fixture',
    port: 25565,
    startup: `/bin/sh ${GAME}`,
    stop: { type: 'command', value: 'stop', graceS: 5 },
    doneRegex: '^Done \\(',
    environment: { DONE_DELAY: '0.2' },
    autoRestart: { enabled: false, maxRestarts: 3, windowS: 60 },
    ...overrides
  }
}

/** Ends every game a test left running (a failed test must not leave processes behind). */
export function killGames (supervisor: Supervisor): void {
  for (const id of supervisor.serverIds()) {
    const pid = supervisor.unit(id)?.pid
    if (pid === undefined) continue
    try {
      process.kill(-pid, 'SIGKILL')
    } catch {}
  }
}

let commandSeq = 0
/** Runs one command through the supervisor's dedupe, as the hub link does. */
export async function run (node: TestNode, serverId: string, action: string, input?: string) {
  const commandId = `00000000-0000-4000-8000-${String(++commandSeq).padStart(12, '0')}`
  const outcome = node.supervisor.execute({ commandId, serverId, action, ...(input === undefined ? {} : { input }) })
  if (outcome === null) throw new Error('command already in flight')
  return await outcome
}
