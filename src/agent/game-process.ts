// One process tree the agent runs for a server (the game, or its install script): started with
// `/bin/sh -c` in its own session (so its own process group, whose id is its pid), stdin from the
// console FIFO, stdout and stderr appended to the output log. The agent keeps no pipe to it, so the
// process outlives the agent untouched; a restarted agent adopts it by pid and start time.
import { spawn } from 'node:child_process'
import { closeSync } from 'node:fs'
import { constants as osc } from 'node:os'
import { openFifoForChild, openLogForChild } from './console-io.ts'
import { isSameProcess, listProcesses, readProcStat } from './proc.ts'
import type { Owner } from './paths.ts'

/** How the process ended. `known` is false for an adopted process: only a parent learns its exit code. */
export interface ProcessExit {
  code: number | null
  signal: NodeJS.Signals | null
  known: boolean
  /** How the processes it left behind in its session were ended, if there were any. */
  leftovers?: 'SIGTERM' | 'SIGKILL'
}

export interface GameProcess {
  readonly pid: number
  readonly startTime: number
  readonly adopted: boolean
  /** Sends `signal` to the whole process group; false when it is already gone. */
  signal (signal: NodeJS.Signals): boolean
  /** Resolves once, when the process has ended (never after dispose() for an adopted one). */
  readonly exited: Promise<ProcessExit>
  /** Stops watching (the agent is shutting down); the process itself is left alone. */
  dispose (): void
}

export interface SpawnOptions {
  command: string
  cwd: string
  env: Record<string, string>
  fifo: string
  log: string
  runAs?: Owner
  /** After the root process ends, the rest of its session gets SIGTERM, then SIGKILL after this... */
  killAfterTermMs: number
  /** ...unless a stop is in progress: then the stop sequence's own timers end them. */
  stopping: () => boolean
}

/** How often an adopted process (not our child: no exit event) is checked in /proc. */
const ADOPTED_POLL_MS = 500

export async function spawnProcess (options: SpawnOptions): Promise<GameProcess> {
  const stdin = openFifoForChild(options.fifo)
  let out: number
  try {
    out = openLogForChild(options.log)
  } catch (err) {
    closeSync(stdin)
    throw err
  }
  try {
    const child = spawn('/bin/sh', ['-c', options.command], {
      cwd: options.cwd,
      env: options.env,
      detached: true, // setsid(): own session and process group, untouched by signals to the agent's
      stdio: [stdin, out, out],
      ...(options.runAs === undefined ? {} : { uid: options.runAs.uid, gid: options.runAs.gid })
    })
    const exited = new Promise<ProcessExit>((resolve) => {
      child.once('exit', (code, signal) => {
        drainSession(child.pid as number, options.killAfterTermMs, options.stopping).then((leftovers) => {
          resolve({ code, signal, known: true, ...(leftovers === undefined ? {} : { leftovers }) })
        }, () => resolve({ code, signal, known: true }))
      })
    })
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve)
      child.once('error', reject)
    })
    // Not unref()ed: while the agent waits for a game's end, that wait must keep it alive. The
    // agent leaves running games behind by exiting explicitly (main.ts), never by running dry.
    const pid = child.pid as number
    // Read before anything could reap it; a fork keeps its start time across exec.
    const startTime = readProcStat(pid)?.startTime ?? 0
    return { pid, startTime, adopted: false, signal: (sig) => signalSession(pid, sig), exited, dispose () {} }
  } finally {
    closeSync(stdin)
    closeSync(out)
  }
}

/** The process `pid` if it is still the one that started at `startTime`; undefined if it is gone. */
export function adoptProcess (pid: number, startTime: number, killAfterTermMs: number, stopping: () => boolean): GameProcess | undefined {
  const rootAlive = isSameProcess(pid, startTime)
  if (!rootAlive) {
    // The root may have died while no agent ran and left the game itself behind in its session
    // (`sh -c` forked it). Unless the pid now leads someone else's session, those are ours to end.
    // (Our own root may linger as an unreaped zombie: same start time, still ours.)
    const now = readProcStat(pid)
    const reused = now !== undefined && now.startTime !== startTime && now.session === pid
    if (reused || sessionMembers(pid).length === 0) return undefined
  }
  let timer: NodeJS.Timeout | undefined
  const exited = new Promise<ProcessExit>((resolve) => {
    const drain = (): void => {
      drainSession(pid, killAfterTermMs, stopping).then((leftovers) => {
        resolve({ code: null, signal: null, known: false, ...(leftovers === undefined ? {} : { leftovers }) })
      }, () => resolve({ code: null, signal: null, known: false }))
    }
    if (!rootAlive) {
      drain()
      return
    }
    timer = setInterval(() => {
      if (isSameProcess(pid, startTime)) return
      clearInterval(timer)
      drain()
    }, ADOPTED_POLL_MS)
  })
  return { pid, startTime, adopted: true, signal: (sig) => signalSession(pid, sig), exited, dispose: () => clearInterval(timer) }
}

/**
 * The server is over only when its whole session is: `sh -c` may have forked the game instead of
 * exec-ing it (so the root can die of a SIGTERM the game itself ignores), and a game may leave
 * helpers behind. Resolves once no process is left in the session. Leftovers of a process that
 * ended on its own get SIGTERM, then SIGKILL after killAfterTermMs; during a stop, the stop
 * sequence escalates instead.
 */
async function drainSession (sid: number, killAfterTermMs: number, stopping: () => boolean): Promise<'SIGTERM' | 'SIGKILL' | undefined> {
  let members = sessionMembers(sid)
  if (members.length === 0) return undefined
  let used: 'SIGTERM' | 'SIGKILL' | undefined
  let deadline = 0
  while (members.length > 0) {
    if (used === undefined && !stopping()) {
      used = 'SIGTERM'
      signalMembers(sid, members, 'SIGTERM')
      deadline = Date.now() + killAfterTermMs
    } else if (used === 'SIGTERM' && Date.now() >= deadline) {
      used = 'SIGKILL'
      signalMembers(sid, members, 'SIGKILL')
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
    members = sessionMembers(sid)
  }
  return used
}

function sessionMembers (sid: number): number[] {
  return listProcesses().filter((p) => p.session === sid && p.state !== 'Z' && p.pid !== sid).map((p) => p.pid)
}

/** The group, and each member one by one (one may have moved to a process group of its own). */
function signalMembers (sid: number, members: number[], signal: NodeJS.Signals): void {
  signalGroup(sid, signal)
  for (const pid of members) {
    try {
      process.kill(pid, signal)
    } catch {}
  }
}

function signalSession (sid: number, signal: NodeJS.Signals): boolean {
  const delivered = signalGroup(sid, signal)
  const members = sessionMembers(sid)
  signalMembers(sid, members, signal)
  return delivered || members.length > 0
}

function signalGroup (pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal)
    return true
  } catch {
    return false
  }
}

/** "code 3", "signal SIGSEGV", or the adopted case, for status reasons. */
export function describeExit (exit: ProcessExit): string {
  const rest = exit.leftovers === undefined ? '' : `; processes it left in its session were ended with ${exit.leftovers}`
  return describeCode(exit) + rest
}

function describeCode (exit: ProcessExit): string {
  if (!exit.known) return 'exit code unknown: the process was adopted after an agent restart'
  if (exit.signal !== null) return `killed by signal ${exit.signal}`
  const code = exit.code ?? -1
  if (code === 127) return 'exited with code 127 (command not found)'
  if (code === 126) return 'exited with code 126 (command not executable)'
  // sh reports a child killed by signal N as 128 + N.
  if (code > 128 && code < 128 + 65) {
    const name = Object.entries(osc.signals).find(([, n]) => n === code - 128)?.[0]
    if (name !== undefined) return `exited with code ${code} (${name})`
  }
  return `exited with code ${code}`
}
