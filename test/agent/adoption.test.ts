// The agent's own restart does not stop games: a supervisor SIGKILLed while a game runs leaves it
// running; the next one re-adopts it (pid + start time from /proc), keeps its status and seq,
// keeps tailing its output, and does not run a command it already ran.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { randomUUID } from 'node:crypto'
import t from 'tap'
import { isSameProcess, readProcStat } from '../../src/agent/proc.ts'
import { createTestNode, gameConfig, makeDataDir, run, type Teardown } from './helpers.ts'

const CHILD = new URL('./supervisor-child.ts', import.meta.url).pathname

/** Starts a supervisor process that starts the server, waits until it runs, then SIGKILLs it. */
async function runAndKillAgent (t: Teardown, dataDir: string, config: object, commandId: string, then?: 'stop'): Promise<number> {
  const args = [CHILD, dataDir, JSON.stringify(config), commandId, ...(then === undefined ? [] : [then])]
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] })
  t.teardown(() => child.kill('SIGKILL'))
  let out = ''
  child.stdout.on('data', (d: Buffer) => { out += d.toString() })
  const deadline = Date.now() + 15_000
  while (!/\n/.test(out)) {
    if (Date.now() > deadline) throw new Error(`agent child said nothing: ${out}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  const [word, pid] = out.trim().split(' ')
  if (word !== 'RUNNING') throw new Error(`agent child: ${out}`)
  child.kill('SIGKILL')
  await once(child, 'exit')
  return Number(pid)
}

t.test('a SIGKILLed agent leaves the game running; the next one adopts it', async (t) => {
  const dataDir = makeDataDir(t)
  const config = gameConfig()
  const startId = randomUUID()
  const pid = await runAndKillAgent(t, dataDir, config, startId)
  const stat = readProcStat(pid)
  t.ok(stat !== undefined && isSameProcess(pid, stat.startTime), 'the game outlived its agent')
  t.teardown(() => { try { process.kill(-pid, 'SIGKILL') } catch {} })

  const node = createTestNode(t, { dataDir })
  t.same(node.supervisor.snapshot(), [{ serverId: config.serverId, status: 'RUNNING', seq: 2, configRevision: 1 }], 'hello after restart')
  t.equal(node.statuses.items.length, 0, 'adoption changes no status')
  t.equal(node.supervisor.unit(config.serverId)?.pid, pid)
  t.ok(node.supervisor.recentConsole(config.serverId).some((l) => /^Done/.test(l)), 'replay buffer refilled from the log')
  // The START is delivered again after the restart: it is not run twice.
  const again = node.supervisor.execute({ commandId: startId, serverId: config.serverId, action: 'START' })
  t.same(await again, { ok: true }, 'the first outcome, not a second run')
  t.same(await run(node, config.serverId, 'COMMAND', 'still there?'), { ok: true })
  await node.waitLine(config.serverId, /^echo: still there\?$/)
  t.same(await run(node, config.serverId, 'STOP'), { ok: true })
  const stopped = await node.waitStatus(config.serverId, 'STOPPED')
  t.equal(stopped.seq, 4)
  t.match(stopped.reason, /exit code unknown/)
})

t.test('a game that ends while the agent is down is CRASHED with an unknowable exit code', async (t) => {
  const dataDir = makeDataDir(t)
  const config = gameConfig()
  const pid = await runAndKillAgent(t, dataDir, config, randomUUID())
  process.kill(-pid, 'SIGKILL')
  while (readProcStat(pid) !== undefined && readProcStat(pid)?.state !== 'Z') await new Promise((resolve) => setTimeout(resolve, 20))
  const node = createTestNode(t, { dataDir })
  const crashed = await node.waitStatus(config.serverId, 'CRASHED')
  t.match(crashed.reason, /exit code unknown/)
  t.equal(crashed.seq, 3)
})

t.test('a stop in progress when the agent died is finished by the next agent: STOPPED, not CRASHED', async (t) => {
  const dataDir = makeDataDir(t)
  // The game ignores SIGTERM and its stop is SIGTERM: only the SIGKILL at the end of the sequence ends it.
  const config = gameConfig({ stop: { type: 'signal', value: 'SIGTERM', graceS: 1 }, environment: { DONE_DELAY: '0.1', IGNORE_TERM: '1' } })
  const pid = await runAndKillAgent(t, dataDir, config, randomUUID(), 'stop')
  t.teardown(() => { try { process.kill(-pid, 'SIGKILL') } catch {} })
  const node = createTestNode(t, { dataDir, timing: { killAfterTermMs: 300 } })
  t.match(node.supervisor.snapshot(), [{ status: 'STOPPING', seq: 3 }])
  const stopped = await node.waitStatus(config.serverId, 'STOPPED')
  t.equal(stopped.seq, 4)
  t.match(stopped.reason, /^stopped \(exit code unknown.*SIGKILL after the grace\)$/)
})
