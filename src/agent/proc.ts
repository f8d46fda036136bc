// Reading processes from /proc (Linux only): identity (pid + start time), liveness, process trees
// and their CPU time and memory. Every read tolerates the process vanishing in between.
import { execFileSync } from 'node:child_process'
import { readFileSync, readdirSync } from 'node:fs'

export interface ProcStat {
  pid: number
  state: string
  ppid: number
  pgrp: number
  session: number
  /** utime + stime, in clock ticks. */
  cpuTicks: number
  /** Clock ticks after boot at which the process started. */
  startTime: number
  rssPages: number
}

function sysconf (name: string, fallback: number): number {
  try {
    const value = Number(execFileSync('getconf', [name], { encoding: 'utf8', timeout: 2_000 }).trim())
    return Number.isInteger(value) && value > 0 ? value : fallback
  } catch {
    return fallback
  }
}

export const CLOCK_TICKS = sysconf('CLK_TCK', 100)
export const PAGE_SIZE = sysconf('PAGESIZE', 4096)

/** Parses /proc/<pid>/stat; undefined when the process does not exist (or is unreadable). */
export function readProcStat (pid: number): ProcStat | undefined {
  let text: string
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1')
  } catch {
    return undefined
  }
  return parseProcStat(text)
}

export function parseProcStat (text: string): ProcStat | undefined {
  // The command name (field 2) is in parentheses and may itself hold spaces and parentheses:
  // everything after the LAST ')' is space-separated.
  const close = text.lastIndexOf(')')
  if (close < 0) return undefined
  const pid = Number.parseInt(text, 10)
  const f = text.slice(close + 2).split(' ')
  // f[0] is field 3 (state); field n is f[n - 3].
  const num = (n: number): number => Number(f[n - 3])
  const stat: ProcStat = {
    pid,
    state: f[0] ?? '?',
    ppid: num(4),
    pgrp: num(5),
    session: num(6),
    cpuTicks: num(14) + num(15),
    startTime: num(22),
    rssPages: num(24)
  }
  return Number.isFinite(stat.startTime) && Number.isFinite(stat.cpuTicks) ? stat : undefined
}

/** Whether `pid` is still the very process that started at `startTime`, and not a zombie. */
export function isSameProcess (pid: number, startTime: number): boolean {
  const stat = readProcStat(pid)
  return stat !== undefined && stat.startTime === startTime && stat.state !== 'Z' && stat.state !== 'X'
}

export function listProcesses (): ProcStat[] {
  const list: ProcStat[] = []
  let names: string[]
  try {
    names = readdirSync('/proc')
  } catch {
    return list
  }
  for (const name of names) {
    const c = name.charCodeAt(0)
    if (c < 48 || c > 57) continue
    const stat = readProcStat(Number(name))
    if (stat !== undefined) list.push(stat)
  }
  return list
}

/**
 * The processes of a server: its root, every descendant, and whatever else stayed in its session
 * (a child that daemonized is reparented away from the tree but keeps the session). A process that
 * called setsid itself escapes both; cgroups are the only complete answer to that.
 */
export function processGroupOf (rootPid: number, all: ProcStat[]): ProcStat[] {
  const children = new Map<number, ProcStat[]>()
  for (const p of all) {
    const list = children.get(p.ppid)
    if (list === undefined) children.set(p.ppid, [p])
    else list.push(p)
  }
  const found = new Map<number, ProcStat>()
  const queue = all.filter((p) => p.pid === rootPid || p.session === rootPid)
  while (queue.length > 0) {
    const p = queue.pop() as ProcStat
    if (found.has(p.pid) || p.state === 'Z') continue
    found.set(p.pid, p)
    for (const child of children.get(p.pid) ?? []) queue.push(child)
  }
  return [...found.values()]
}

let bootTimeMs: number | undefined

/** When the machine booted (ms since the epoch), from /proc/stat's btime. */
export function bootTime (): number {
  if (bootTimeMs === undefined) {
    let btime = 0
    try {
      const match = /^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'latin1'))
      btime = Number(match?.[1] ?? 0)
    } catch {}
    bootTimeMs = btime * 1000
  }
  return bootTimeMs
}

/** Wall-clock start (ms since the epoch) of a process whose stat startTime is `ticks`. */
export function startTimeMs (ticks: number): number {
  return bootTime() + (ticks * 1000) / CLOCK_TICKS
}
