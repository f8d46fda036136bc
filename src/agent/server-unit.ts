// One server on this node: its process (game or install script), status machine, stop sequence,
// crash policy and re-adoption after an agent restart. Every status change goes through
// deps.report, which persists and sends it; process facts are persisted in the same record (via
// deps.save) before anything depends on them, so a SIGKILLed agent finds them again.
//
// Status follows the process: STARTING on spawn, RUNNING when a line matches doneRegex (at once
// without one), STOPPING on a stop request, STOPPED on exit code 0 or on the end of a requested
// stop, CRASHED on anything else, with a reason naming the code or signal.
import { describeExit, spawnProcess, adoptProcess, type GameProcess, type ProcessExit } from './game-process.ts'
import { decideRestart } from './crash-policy.ts'
import { ensureFifo, writeConsoleLine } from './console-io.ts'
import { gameEnvironment } from './environment.ts'
import { createLogTail, type LogTail } from './log-tail.ts'
import { compileDoneRegex, type DoneMatcher } from './done-regex.ts'
import { prepareServerDirs, type Owner, type ServerPaths } from './paths.ts'
import { OK, failure, type AgentLogger, type AgentStatus, type Outcome, type ServerConfig, type ServerRecord, type StopKind } from './types.ts'

export interface UnitTiming {
  /** SIGKILL follows SIGTERM after this (PROTOCOL.md: 10 s). */
  killAfterTermMs: number
  /** A START answers ok once RUNNING, or after this while still STARTING. */
  startResultMs: number
  /** Delay before an automatic restart. */
  restartDelayMs: number
  maxLogBytes: number
}

export const DEFAULT_TIMING: UnitTiming = { killAfterTermMs: 10_000, startResultMs: 60_000, restartDelayMs: 1_000, maxLogBytes: 8 * 1024 * 1024 }

export interface UnitDeps {
  paths: ServerPaths
  record: ServerRecord
  config: () => ServerConfig | undefined
  save: () => void
  /** Reports a status change (legal transitions only); persists the record. */
  report: (status: AgentStatus, reason: string) => void
  output: (lines: string[]) => void
  /** Applies the memory limit to a new process (cgroup v2 when available). */
  limitMemory: (pid: number, config: ServerConfig) => void
  /** Processes of this server the kernel's OOM killer ended so far (cgroup mode; else 0). */
  oomKills: () => number
  runAs?: Owner
  log: AgentLogger
  timing: UnitTiming
  now: () => number
}

const DEFAULT_STOP: ServerConfig['stop'] = { type: 'signal', value: 'SIGTERM', graceS: 30 }
const ACTIVE = new Set<AgentStatus>(['STARTING', 'RUNNING', 'STOPPING', 'INSTALLING'])

export function createServerUnit (deps: UnitDeps) {
  const { record, paths, log, timing } = deps
  let proc: GameProcess | undefined
  let tail: LogTail | undefined
  let done: DoneMatcher | undefined
  let stopTimers: NodeJS.Timeout[] = []
  let restartTimer: NodeJS.Timeout | undefined
  let ended: PromiseWithResolvers<void> | undefined
  let running: PromiseWithResolvers<Outcome> | undefined
  let closed = false
  /** The configuration the running process was started with: a newer one waits for the next start. */
  let activeConfig: ServerConfig | undefined
  let oomBaseline = 0
  /** A restart() call waits to start the server again itself. */
  let restartWaiting = false
  /** Set between STARTING/INSTALLING and the spawn's end: a stop in that window waits for it. */
  let spawning: Promise<void> | undefined
  /** How far the current stop sequence went, for the status reason. */
  let escalated: string | undefined

  function status (): AgentStatus { return record.status }

  async function start (): Promise<Outcome> {
    const config = deps.config()
    if (config === undefined) return failure('NO_CONFIG', 'the hub has sent no configuration for this server')
    if (proc !== undefined || (status() !== 'STOPPED' && status() !== 'CRASHED')) {
      return failure('ALREADY_RUNNING', `the server is ${status()}`)
    }
    return await launch('game', config)
  }

  async function install (): Promise<Outcome> {
    const config = deps.config()
    if (config === undefined) return failure('NO_CONFIG', 'the hub has sent no configuration for this server')
    if (proc !== undefined || (status() !== 'STOPPED' && status() !== 'CRASHED')) {
      return failure('ALREADY_RUNNING', `the server is ${status()}`)
    }
    if (config.install === undefined || config.install.trim() === '') return OK
    const outcome = await launch('install', config)
    if (!outcome.ok) return outcome
    await ended?.promise
    return status() === 'STOPPED' ? OK : failure('INSTALL_FAILED', lastReason)
  }

  let lastReason = ''
  function report (to: AgentStatus, reason: string): void {
    lastReason = reason
    deps.report(to, reason)
  }

  async function launch (kind: 'game' | 'install', config: ServerConfig): Promise<Outcome> {
    clearTimeout(restartTimer)
    activeConfig = config
    report(kind === 'game' ? 'STARTING' : 'INSTALLING', kind === 'game' ? 'starting' : 'installing')
    const fail = (message: string): Outcome => {
      report('CRASHED', message)
      return failure(kind === 'game' ? 'SPAWN_FAILED' : 'INSTALL_FAILED', message)
    }
    done = undefined
    if (kind === 'game' && config.doneRegex !== undefined && config.doneRegex !== '') {
      const compiled = compileDoneRegex(config.doneRegex)
      if (!compiled.ok) return fail(compiled.reason)
      done = compiled.matcher
    }
    let started: GameProcess
    const spawned = Promise.withResolvers<void>()
    spawning = spawned.promise
    try {
      prepareServerDirs(paths, deps.runAs)
      await ensureFifo(paths.fifo)
      openTail(true)
      started = await spawnProcess({
        command: kind === 'game' ? config.startup : config.install as string,
        cwd: paths.work,
        env: gameEnvironment(config, paths.work),
        fifo: paths.fifo,
        log: paths.log,
        killAfterTermMs: timing.killAfterTermMs,
        stopping: () => record.process?.stop !== undefined,
        ...(deps.runAs === undefined ? {} : { runAs: deps.runAs })
      })
    } catch (err) {
      closeTail()
      spawning = undefined
      spawned.resolve()
      return fail(`could not start: ${(err as Error).message}`)
    }
    record.process = { pid: started.pid, startTime: started.startTime, kind, startedAtMs: deps.now() }
    deps.save()
    watch(started)
    spawning = undefined
    spawned.resolve()
    if (kind === 'install') return OK
    try {
      deps.limitMemory(started.pid, config)
      oomBaseline = deps.oomKills()
    } catch (err) {
      log.warn({ serverId: record.serverId, err }, 'memory limit not applied')
    }
    running = Promise.withResolvers<Outcome>()
    if (done === undefined) markRunning()
    const timer = setTimeout(() => running?.resolve(OK), timing.startResultMs)
    const outcome = await running.promise
    clearTimeout(timer)
    return outcome
  }

  function openTail (fromEnd: boolean): void {
    closeTail()
    tail = createLogTail({ file: paths.log, maxBytes: timing.maxLogBytes, fromEnd, onLines })
  }

  function closeTail (): void {
    tail?.close()
    tail = undefined
  }

  function onLines (lines: string[]): void {
    deps.output(lines)
    if (status() === 'STARTING') checkDone(lines)
  }

  /** RUNNING when a line matches doneRegex, or when the regex had to be abandoned (done-regex.ts). */
  function checkDone (lines: readonly string[]): void {
    if (done === undefined) return
    const result = done.test(lines)
    if (result.matched) markRunning()
    else if (result.abandoned !== undefined) {
      log.warn({ serverId: record.serverId, reason: result.abandoned }, 'doneRegex abandoned; the server counts as running')
      done = undefined
      markRunning(`running; ${result.abandoned}`)
    }
  }

  function markRunning (reason = 'running'): void {
    if (status() !== 'STARTING') return
    report('RUNNING', reason)
    running?.resolve(OK)
  }

  function watch (p: GameProcess): void {
    proc = p
    ended = Promise.withResolvers<void>()
    p.exited.then((exit) => { if (proc === p) onExit(exit) }, () => {})
  }

  function onExit (exit: ProcessExit): void {
    tail?.poll()
    closeTail()
    const rec = record.process
    proc = undefined
    record.process = undefined
    for (const t of stopTimers) clearTimeout(t)
    stopTimers = []
    const how = describeExit(exit)
    const escalatedTo = escalated
    escalated = undefined
    const stop = rec?.stop
    let to: AgentStatus
    let reason: string
    if (rec?.kind === 'install') {
      const ok = exit.known && exit.code === 0 && stop === undefined
      to = ok ? 'STOPPED' : 'CRASHED'
      reason = ok ? 'install finished' : stop?.kind === 'kill' ? 'install killed on request' : `install failed: ${how}`
    } else if (stop?.kind === 'memory') {
      to = 'CRASHED'
      reason = stop.reason ?? 'memory limit exceeded'
    } else if (stop === undefined && rec?.kind === 'game' && deps.oomKills() > oomBaseline) {
      to = 'CRASHED'
      reason = `memory limit exceeded: the kernel's OOM killer ended a process of the server (cgroup v2 memory.max of ${activeConfig?.memoryLimitMb ?? '?'} MiB); ${how}`
    } else if (stop !== undefined) {
      to = 'STOPPED'
      reason = stop.kind === 'kill' ? 'killed on request' : `stopped (${how}${escalatedTo === undefined ? '' : `; ${escalatedTo}`})`
    } else if (exit.known && exit.code === 0 && exit.signal === null) {
      to = 'STOPPED'
      reason = how
    } else {
      to = 'CRASHED'
      reason = how
    }
    let restartNow = false
    if (to === 'CRASHED' && rec?.kind === 'game' && !closed) {
      const decision = decideRestart(deps.config()?.autoRestart, record.restarts, deps.now())
      record.restarts = decision.history
      if (decision.note !== undefined) reason = `${reason}; ${decision.note}`
      restartNow = decision.restart
    }
    report(to, reason)
    running?.resolve(failure('SPAWN_FAILED', `the process ended before it was running: ${reason}`))
    running = undefined
    ended?.resolve()
    if (restartNow) {
      restartTimer = setTimeout(() => {
        start().then((o) => { if (!o.ok) log.warn({ serverId: record.serverId, error: o.error }, 'automatic restart failed') }, () => {})
      }, timing.restartDelayMs)
    } else if (stop?.kind === 'restart' && !restartWaiting && !closed) {
      // A RESTART interrupted by an agent restart: finish it.
      start().catch(() => {})
    }
  }

  /** Asks the process to end (`kind` says why); resolves when it has. */
  async function requestStop (kind: StopKind, reason?: string): Promise<Outcome> {
    if (proc === undefined && spawning !== undefined) await spawning
    const p = proc
    const rec = record.process
    if (p === undefined || rec === undefined) return failure('NOT_RUNNING', `the server is ${status()}`)
    const wait = ended?.promise
    if (kind === 'kill' || kind === 'memory' || (kind === 'remove' && rec.kind === 'install')) {
      rec.stop = { kind, atMs: deps.now(), ...(reason === undefined ? {} : { reason }) }
      deps.save()
      p.signal('SIGKILL')
    } else if (rec.kind === 'install') {
      return failure('NOT_RUNNING', 'the install script is running; KILL ends it')
    } else if (rec.stop === undefined) {
      rec.stop = { kind, atMs: deps.now() }
      deps.save()
      if (status() === 'STARTING' || status() === 'RUNNING') report('STOPPING', kind === 'restart' ? 'restarting' : 'stopping')
      running?.resolve(failure('SPAWN_FAILED', 'stopped before it was running'))
      armStop(p, 0)
    }
    await wait
    return OK
  }

  /** The template's stop, then SIGTERM after graceS, then SIGKILL killAfterTermMs later. */
  function armStop (p: GameProcess, elapsedMs: number): void {
    const stop = (activeConfig ?? deps.config())?.stop ?? DEFAULT_STOP
    const graceMs = (stop.graceS ?? 30) * 1000
    if (elapsedMs === 0) {
      if (stop.type === 'command') {
        try {
          writeConsoleLine(paths.fifo, stop.value)
        } catch {
          p.signal('SIGTERM')
        }
      } else {
        p.signal(stop.value as NodeJS.Signals)
      }
    }
    const term = (): void => {
      escalated = 'SIGTERM after the grace'
      p.signal('SIGTERM')
      stopTimers.push(setTimeout(() => {
        escalated = 'SIGKILL after the grace'
        p.signal('SIGKILL')
      }, timing.killAfterTermMs))
    }
    stopTimers.push(setTimeout(term, Math.max(0, graceMs - elapsedMs)))
  }

  function command (input: string): Outcome {
    if (proc === undefined || record.process?.kind !== 'game' || (status() !== 'RUNNING' && status() !== 'STARTING')) {
      return failure('NOT_RUNNING', `the server is ${status()}`)
    }
    try {
      writeConsoleLine(paths.fifo, input)
      return OK
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      const why = code === 'ENXIO' ? 'nobody reads the console' : code === 'EAGAIN' ? 'the console input is full (the game does not read it)' : (err as Error).message
      return failure('INPUT_FAILED', `console input not written: ${why}`)
    }
  }

  /** At agent start: take the recorded process back, or settle what became of it. */
  function adopt (recent: readonly string[]): void {
    const rec = record.process
    if (rec === undefined) {
      // Recorded as active without a process: the agent died between the report and the spawn.
      if (ACTIVE.has(status())) report(status() === 'STOPPING' ? 'STOPPED' : 'CRASHED', 'the agent restarted before the process was recorded')
      return
    }
    const p = adoptProcess(rec.pid, rec.startTime, timing.killAfterTermMs, () => record.process?.stop !== undefined)
    const config = deps.config()
    if (rec.kind === 'game' && config?.doneRegex !== undefined && config.doneRegex !== '') {
      const compiled = compileDoneRegex(config.doneRegex)
      if (compiled.ok) done = compiled.matcher
    }
    if (p === undefined) {
      onExit({ code: null, signal: null, known: false })
      return
    }
    openTail(true)
    watch(p)
    if (status() === 'STARTING') {
      if (done === undefined) markRunning()
      else checkDone(recent)
    }
    if (rec.stop !== undefined && rec.stop.kind !== 'kill' && rec.stop.kind !== 'memory') armStop(p, Math.max(1, deps.now() - rec.stop.atMs))
    else if (rec.stop !== undefined) p.signal('SIGKILL')
  }

  return {
    get status () { return status() },
    get pid () { return proc?.pid },
    get startedAtMs () { return record.process?.startedAtMs },
    /** The memory limit of the running process (its configuration may have changed since). */
    get memoryLimitMb () { return (activeConfig ?? deps.config())?.memoryLimitMb },
    start,
    install,
    stop: () => requestStop('stop'),
    kill: () => requestStop('kill'),
    async restart (): Promise<Outcome> {
      if (proc !== undefined) {
        if (record.process?.kind === 'install') return failure('ALREADY_RUNNING', 'the install script is running')
        restartWaiting = true
        try {
          await requestStop('restart')
        } finally {
          restartWaiting = false
        }
      }
      return await start()
    },
    command,
    /** The agent's /proc watch found the tree over its limit. */
    memoryExceeded (reason: string): void { requestStop('memory', reason).catch(() => {}) },
    /** Ends the process for good (server.removed); resolves when it is gone. */
    async remove (): Promise<void> {
      clearTimeout(restartTimer)
      closed = true
      if (proc !== undefined) await requestStop('remove')
    },
    adopt,
    /** The agent is shutting down: stop watching, leave the process running. */
    close (): void {
      closed = true
      clearTimeout(restartTimer)
      for (const t of stopTimers) clearTimeout(t)
      proc?.dispose()
      proc = undefined // a late exit event of our own child must not report after close
      closeTail()
      running?.resolve(OK)
    }
  }
}

export type ServerUnit = ReturnType<typeof createServerUnit>
