// Every server of this node: their units, the durable record of each (status, seq, unacked
// statuses, process), their configurations, and the dedupe of commands by commandId. The hub link
// talks to this and nothing else; it knows nothing of processes.
import { readdirSync } from 'node:fs'
import path from 'node:path'
import { isLegalTransition } from '../agent-protocol/index.ts'
import { createCommandLog, type CommandLog } from './command-log.ts'
import { createConsoleBuffer, type ConsoleBuffer } from './console-buffer.ts'
import { readTail } from './console-io.ts'
import { createLineSplitter } from './lines.ts'
import type { MemoryLimiter } from './memory-limit.ts'
import { isServerId, prepareDataDir, removeServerDirs, serverPaths, ensureDir, type Owner, type ServerPaths } from './paths.ts'
import { createServerUnit, type ServerUnit, type UnitTiming } from './server-unit.ts'
import { readJson, writeJsonAtomic } from './store.ts'
import { failure, type AgentLogger, type AgentStatus, type Outcome, type OutboxEntry, type ServerConfig, type ServerRecord } from './types.ts'
import { validateRecord, validateServerConfig } from './validate.ts'

/** Unacked statuses kept per server; older ones are dropped (the next hello snapshot covers them). */
const MAX_OUTBOX = 256
/** Bytes of a log read back after an agent restart to refill the replay buffer. */
const REPLAY_SEED_BYTES = 256 * 1024

export interface CommandRequest {
  commandId: string
  serverId: string
  action: string
  input?: string
}

export interface SupervisorOptions {
  dataDir: string
  runAs?: Owner
  log: AgentLogger
  timing: UnitTiming
  memory: MemoryLimiter
  onStatus: (serverId: string, entry: OutboxEntry) => void
  onConsole: (serverId: string, lines: string[]) => void
  now?: () => number
}

interface Entry {
  unit: ServerUnit
  record: ServerRecord
  paths: ServerPaths
  config: ServerConfig | undefined
  console: ConsoleBuffer
}

export function createSupervisor (options: SupervisorOptions) {
  const { dataDir, log, now = Date.now } = options
  const servers = new Map<string, Entry>()
  let commands: CommandLog

  function save (entry: Entry): void {
    writeJsonAtomic(entry.paths.state, entry.record)
  }

  function report (entry: Entry, to: AgentStatus, reason: string): void {
    const { record } = entry
    if (!isLegalTransition(record.status, to)) {
      log.warn({ serverId: record.serverId, from: record.status, to }, 'illegal status transition not reported')
      return
    }
    entry.console.flush() // the output that led to the change goes first
    record.status = to
    record.seq += 1
    const item: OutboxEntry = { seq: record.seq, status: to, at: new Date(now()).toISOString(), reason: storable(reason, 256) }
    record.outbox.push(item)
    if (record.outbox.length > MAX_OUTBOX) record.outbox.shift()
    save(entry)
    options.onStatus(record.serverId, item)
  }

  function add (record: ServerRecord, config: ServerConfig | undefined): Entry {
    const paths = serverPaths(dataDir, record.serverId)
    const seed: string[] = []
    const splitter = createLineSplitter()
    seed.push(...splitter.push(readTail(paths.log, REPLAY_SEED_BYTES)), ...splitter.flush())
    // The first line read back is probably cut; drop it unless the log is shorter than the seed.
    if (seed.length > 0 && readTail(paths.log, REPLAY_SEED_BYTES + 1).length > REPLAY_SEED_BYTES) seed.shift()
    const entry = {
      record, paths, config, console: createConsoleBuffer((lines) => options.onConsole(record.serverId, lines), seed)
    } as Entry
    entry.unit = createServerUnit({
      paths,
      record,
      config: () => entry.config,
      save: () => save(entry),
      report: (to, reason) => report(entry, to, reason),
      output: (lines) => entry.console.add(lines),
      limitMemory: (pid, config) => options.memory.apply(record.serverId, pid, config.memoryLimitMb),
      oomKills: () => options.memory.oomKills(record.serverId),
      ...(options.runAs === undefined ? {} : { runAs: options.runAs }),
      log,
      timing: options.timing,
      now
    })
    servers.set(record.serverId, entry)
    return entry
  }

  /** Loads every server found in the data folder and re-adopts their processes. */
  function init (): void {
    prepareDataDir(dataDir, options.runAs !== undefined)
    commands = createCommandLog(path.join(dataDir, 'commands.json'), (err) => log.error({ err }, 'command log not persisted'))
    for (const name of readdirSync(path.join(dataDir, 'run'))) {
      if (!isServerId(name)) continue
      const paths = serverPaths(dataDir, name)
      const record = validateRecord(readJson(paths.state), name)
      if (record === undefined) {
        log.warn({ serverId: name }, 'server state unreadable; starting it over as STOPPED')
      }
      const config = validateServerConfig(readJson(paths.config)).config
      const entry = add(record ?? { serverId: name, status: 'STOPPED', seq: 0, outbox: [], restarts: [] }, config)
      entry.unit.adopt(entry.console.recent())
    }
  }

  /** Stores a configuration from the hub; it takes effect at the server's next start. */
  function applyConfig (raw: unknown): { ok: true, serverId: string, revision: number } | { ok: false, reason: string } {
    const checked = validateServerConfig(raw)
    if (checked.config === undefined) return { ok: false, reason: checked.reason }
    const config = checked.config
    let entry = servers.get(config.serverId)
    const paths = serverPaths(dataDir, config.serverId)
    ensureDir(paths.run, 0o700)
    writeJsonAtomic(paths.config, config)
    if (entry === undefined) {
      entry = add({ serverId: config.serverId, status: 'STOPPED', seq: 0, outbox: [], restarts: [] }, config)
      save(entry)
    }
    entry.config = config
    return { ok: true, serverId: config.serverId, revision: config.revision }
  }

  /** server.removed: ends its processes, then deletes its folders (without following symlinks). */
  async function remove (serverId: string): Promise<void> {
    if (!isServerId(serverId)) return
    const entry = servers.get(serverId)
    if (entry !== undefined) {
      await entry.unit.remove()
      entry.unit.close()
      entry.console.close()
      servers.delete(serverId)
      options.memory.release(serverId)
    }
    const removed = await removeServerDirs(serverPaths(dataDir, serverId), options.runAs)
    if (!removed.removed) log.warn({ serverId, reason: removed.reason }, 'server folder not fully removed: what the game user cannot delete is left in place')
  }

  /** Runs a command once per commandId; a repeat gets the first run's outcome, or null while it runs. */
  function execute (cmd: CommandRequest): Promise<Outcome> | null {
    return commands.run(cmd.commandId, () => dispatch(cmd))
  }

  async function dispatch (cmd: CommandRequest): Promise<Outcome> {
    const entry = servers.get(cmd.serverId)
    if (entry === undefined) return failure('NO_CONFIG', 'this agent has no configuration for that server')
    const { unit } = entry
    switch (cmd.action) {
      case 'START': return await unit.start()
      case 'STOP': return await unit.stop()
      case 'RESTART': return await unit.restart()
      case 'KILL': return await unit.kill()
      case 'INSTALL': return await unit.install()
      case 'COMMAND':
        if (typeof cmd.input !== 'string' || /[\r\n]/.test(cmd.input)) return failure('INPUT_FAILED', 'a COMMAND needs one line of input')
        return unit.command(cmd.input)
      default: return failure('FEATURE_UNSUPPORTED', `this agent does not know the action ${JSON.stringify(String(cmd.action).slice(0, 32))}`)
    }
  }

  function acked (serverId: string, seq: number): void {
    const entry = servers.get(serverId)
    if (entry === undefined) return
    const before = entry.record.outbox.length
    entry.record.outbox = entry.record.outbox.filter((e) => e.seq > seq)
    if (entry.record.outbox.length !== before) save(entry)
  }

  /** After a welcome: adopt the hub's seq if greater, and return what is still unacked, in order. */
  function welcomed (lastSeq: Record<string, number>): Array<{ serverId: string, entry: OutboxEntry }> {
    const resend: Array<{ serverId: string, entry: OutboxEntry }> = []
    for (const [serverId, entry] of servers) {
      const stored = lastSeq[serverId] ?? 0
      const { record } = entry
      let changed = false
      if (stored > record.seq) {
        record.seq = stored
        changed = true
      }
      const rest = record.outbox.filter((e) => e.seq > stored)
      if (rest.length !== record.outbox.length) changed = true
      record.outbox = rest
      if (changed) save(entry)
      for (const e of rest) resend.push({ serverId, entry: e })
    }
    return resend
  }

  return {
    init,
    applyConfig,
    remove,
    execute,
    acked,
    welcomed,
    /** The hello snapshot: every server with its status, seq and the configuration revision it holds. */
    snapshot () {
      return [...servers.values()].map(({ record, config }) => ({
        serverId: record.serverId,
        status: record.status,
        seq: record.seq,
        ...(config === undefined ? {} : { configRevision: config.revision })
      }))
    },
    recentConsole (serverId: string): string[] { return servers.get(serverId)?.console.recent() ?? [] },
    serverIds (): string[] { return [...servers.keys()] },
    unit (serverId: string): ServerUnit | undefined { return servers.get(serverId)?.unit },
    config (serverId: string): ServerConfig | undefined { return servers.get(serverId)?.config },
    workDir (serverId: string): string { return serverPaths(dataDir, serverId).work },
    close (): void {
      for (const entry of servers.values()) {
        entry.unit.close()
        entry.console.flush()
        entry.console.close()
      }
      commands?.close()
    }
  }
}

export type Supervisor = ReturnType<typeof createSupervisor>

/** Text the hub can store: well-formed, no NUL, at most `max` UTF-16 units. */
export function storable (text: string, max: number): string {
  return text.toWellFormed().replaceAll('\u0000', '\uFFFD').slice(0, max).toWellFormed()
}
