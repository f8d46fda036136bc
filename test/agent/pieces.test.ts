// The agent's pure pieces: line rules, frame chunking, crash-loop guard, /proc parsing, config
// loading, server.config validation, the command log.
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import t from 'tap'
import { AgentConfigError, defaultDataDir, loadAgentConfig } from '../../src/agent/config.ts'
import { chunkLines, createConsoleBuffer } from '../../src/agent/console-buffer.ts'
import { createCommandLog } from '../../src/agent/command-log.ts'
import { decideRestart } from '../../src/agent/crash-policy.ts'
import { createLineSplitter, splitByBytes } from '../../src/agent/lines.ts'
import { createLogTail } from '../../src/agent/log-tail.ts'
import { createMemoryLimiter } from '../../src/agent/memory-limit.ts'
import { SILENT_LOGGER } from '../../src/agent/types.ts'
import { parseProcStat } from '../../src/agent/proc.ts'
import { validateServerConfig } from '../../src/agent/validate.ts'
import { gameConfig } from './helpers.ts'

t.test('output bytes become protocol lines', async (t) => {
  const s = createLineSplitter()
  t.same(s.push(Buffer.from('one\r\ntw')), ['one'])
  t.same(s.push(Buffer.from('o\nbad \xff\x00 bytes\n', 'latin1')), ['two', 'bad \uFFFD\uFFFD bytes'])
  t.same(s.push(Buffer.from([0xe2, 0x82])), [], 'a split code point waits for its end')
  t.same(s.push(Buffer.from([0xac, 0x0a])), ['€'])
  const long = s.push(Buffer.from(`${'é'.repeat(3000)}\n`))
  t.same(long.map((l) => Buffer.byteLength(l)), [4096, 1904], 'split at 4096 bytes, never inside a code point')
  t.same(s.push(Buffer.from('x'.repeat(20_000))).length, 5, 'an endless line is flushed in bounded pieces')
  t.same(s.flush(), [])
  t.same(splitByBytes('😀😀', 4), ['😀', '😀'])
})

t.test('console frames stay within 100 lines and 16 KiB; replay keeps 200 lines', async (t) => {
  const frames = chunkLines([...Array.from({ length: 150 }, (_, i) => `l${i}`), 'x'.repeat(4096), ...Array.from({ length: 4 }, () => 'y'.repeat(4096))])
  t.same(frames.map((f) => f.length), [100, 53, 2])
  t.ok(frames.every((f) => f.reduce((n, l) => n + Buffer.byteLength(l), 0) <= 16_384))
  const sent: string[][] = []
  const buffer = createConsoleBuffer((lines) => sent.push(lines), ['old'])
  buffer.add(Array.from({ length: 250 }, (_, i) => `n${i}`))
  t.equal(buffer.recent().length, 200)
  t.equal(buffer.recent()[0], 'n50')
  t.same(sent, [], 'batched for up to 100 ms')
  buffer.flush()
  t.same(sent.map((f) => f.length), [100, 100, 50])
  buffer.close()
})

t.test('crash-loop guard', async (t) => {
  const policy = { enabled: true, maxRestarts: 2, windowS: 10 }
  t.same(decideRestart({ ...policy, enabled: false }, [], 0), { restart: false, history: [] })
  t.same(decideRestart(policy, [1_000], 5_000), { restart: true, history: [1_000, 5_000] })
  t.match(decideRestart(policy, [1_000, 5_000], 6_000), { restart: false, note: /crash loop: 2 automatic restarts within 10 s/ })
  t.same(decideRestart(policy, [1_000, 5_000], 12_000), { restart: true, history: [5_000, 12_000] }, 'old restarts leave the window')
})

t.test('/proc/<pid>/stat with a hostile command name', async (t) => {
  const line = '4242 (a) b) c (d) S 1 4242 4242 0 -1 4194560 100 0 0 0 7 3 0 0 20 0 1 0 123456 1000000 250 18446744073709551615'
  t.match(parseProcStat(line), { pid: 4242, state: 'S', ppid: 1, pgrp: 4242, session: 4242, cpuTicks: 10, startTime: 123456, rssPages: 250 })
  t.equal(parseProcStat('garbage'), undefined)
})

t.test('agent config: defaults and every bad key at once', async (t) => {
  t.equal(defaultDataDir({}, 0), '/var/lib/game-panel-agent')
  t.equal(defaultDataDir({ XDG_STATE_HOME: '/home/u/.state' }, 1000), '/home/u/.state/game-panel-agent')
  t.equal(defaultDataDir({ HOME: '/home/u' }, 1000), '/home/u/.local/state/game-panel-agent')
  const config = loadAgentConfig({ AGENT_HUB_URL: 'ws://a:1/agent/v1, wss://b/agent/v1', AGENT_TOKEN: 'x'.repeat(20), AGENT_DATA_DIR: '/d' })
  // The hub's base address (the form the panel's base URL suggests) means its agent endpoint.
  t.same(loadAgentConfig({ AGENT_HUB_URL: 'ws://a:1, wss://b/,ws://c:2/agent/v1', AGENT_TOKEN: 'x'.repeat(20), AGENT_DATA_DIR: '/d' }).hubUrls,
    ['ws://a:1/agent/v1', 'wss://b/agent/v1', 'ws://c:2/agent/v1'])
  t.same(config.hubUrls, ['ws://a:1/agent/v1', 'wss://b/agent/v1'])
  t.equal(config.gameUser, 'gamepanel')
  const err = t.throws(() => loadAgentConfig({ AGENT_HUB_URL: 'http://a', AGENT_GAME_USER: 'Root!', AGENT_STATS_INTERVAL_MS: 'soon' })) as AgentConfigError
  t.same(err.problems.map((p) => p.split(':')[0]).sort(), ['AGENT_GAME_USER', 'AGENT_HUB_URL', 'AGENT_STATS_INTERVAL_MS', 'AGENT_TOKEN'])
  t.notMatch(String(t.throws(() => loadAgentConfig({ AGENT_HUB_URL: 'ws://a', AGENT_TOKEN: 'short' }))), /short/, 'the token is never echoed')
})

t.test('server.config from the hub is validated', async (t) => {
  const good = { type: 'server.config', ...gameConfig(), extra: 'ignored' }
  t.ok(validateServerConfig(good).config)
  t.notOk('type' in (validateServerConfig(good).config ?? {}))
  t.match(validateServerConfig({ ...good, serverId: '../../etc' }).reason, /^\/serverId/)
  t.match(validateServerConfig({ ...good, stop: { type: 'signal', value: 'SIGKILL' } }).reason, /stop/)
  t.match(validateServerConfig({ ...good, stop: { type: 'command', value: 'a\nb' } }).reason, /stop/)
  t.match(validateServerConfig(null).reason, /./)
})

t.test('command log: once per id, across a restart', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'agent-cmdlog-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = path.join(dir, 'commands.json')
  const log = createCommandLog(file)
  let runs = 0
  const slow = Promise.withResolvers<{ ok: boolean }>()
  const first = log.run('a', async () => { runs++; return await slow.promise })
  t.equal(log.run('a', async () => { runs++; return { ok: true } }), null, 'in flight: nothing to answer yet')
  slow.resolve({ ok: true })
  t.same(await first, { ok: true })
  t.same(await log.run('a', async () => { runs++; return { ok: false } }), { ok: true })
  t.equal(runs, 1)
  log.run('b', () => new Promise(() => {})) // still running when the "agent dies"
  const again = createCommandLog(file)
  t.same(await again.run('a', async () => ({ ok: false })), { ok: true })
  t.match(await again.run('b', async () => ({ ok: true })), { ok: false, error: { code: 'INTERRUPTED' } })
})

t.test('the log tail follows appends and rotates by size (copy, then truncate in place)', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'agent-tail-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = path.join(dir, 'output.log')
  appendFileSync(file, 'before the tail\n')
  const lines: string[] = []
  const tail = createLogTail({ file, maxBytes: 64, onLines: (l) => lines.push(...l), pollMs: 60_000 })
  appendFileSync(file, 'one\ntwo\n')
  tail.poll()
  t.same(lines, ['one', 'two'], 'from the end: what was there before is not re-sent')
  appendFileSync(file, `${'x'.repeat(70)}\n`)
  tail.poll()
  t.equal(statSync(file).size, 0, 'truncated in place past maxBytes')
  t.match(readFileSync(`${file}.1`, 'utf8'), /x{70}/, 'the previous content kept as .1')
  appendFileSync(file, 'after rotation\npartial')
  tail.poll()
  t.same(lines.slice(-1), ['after rotation'])
  tail.close()
  t.same(lines.slice(-1), ['partial'], 'an unterminated last line is flushed at close')
  t.ok(existsSync(file))
})

t.test('a log written faster than it is read is truncated unread, not left to fill the disk', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'agent-tail-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = path.join(dir, 'output.log')
  const lines: string[] = []
  const tail = createLogTail({ file, maxBytes: 64 * 1024, onLines: (l) => lines.push(...l), pollMs: 60_000 })
  t.teardown(() => tail.close())
  // 4 MiB arrive between two reads; one read takes at most 1 MiB, so the reader is far behind.
  appendFileSync(file, `${'y'.repeat(1023)}\n`.repeat(4096))
  tail.poll()
  t.equal(statSync(file).size, 0, 'truncated although the reader had not caught up')
  t.notOk(existsSync(`${file}.1`), 'no copy of a flood')
  t.match(lines.at(-1), /^\[agent\] \d+ bytes of output skipped/, 'the console is told how much was skipped')
  appendFileSync(file, 'after the flood\n')
  tail.poll()
  t.same(lines.slice(-1), ['after the flood'], 'and keeps following')
})

t.test('memory limiter: cgroup v2 files when the controller is offered, else the /proc watch', async (t) => {
  const root = mkdtempSync(path.join(tmpdir(), 'agent-cgroup-'))
  t.teardown(() => rmSync(root, { recursive: true, force: true }))
  // A stand-in for a delegated cgroup v2 folder: the same files, on a plain file system.
  appendFileSync(path.join(root, 'cgroup.controllers'), 'cpu io memory pids\n')
  const limiter = createMemoryLimiter(root, SILENT_LOGGER)
  t.equal(limiter.mode, 'cgroup')
  t.equal(readFileSync(path.join(root, 'cgroup.subtree_control'), 'utf8'), '+memory')
  const id = '00000000-0000-4000-8000-0000000000c1'
  limiter.apply(id, 4242, 64)
  t.equal(readFileSync(path.join(root, id, 'memory.max'), 'utf8'), String(64 * 1024 * 1024))
  t.equal(readFileSync(path.join(root, id, 'memory.swap.max'), 'utf8'), '0')
  t.equal(readFileSync(path.join(root, id, 'cgroup.procs'), 'utf8'), '4242')
  t.equal(limiter.oomKills(id), 0)
  appendFileSync(path.join(root, id, 'memory.events'), 'low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n')
  t.equal(limiter.oomKills(id), 1)

  const noMemory = mkdtempSync(path.join(tmpdir(), 'agent-cgroup-'))
  t.teardown(() => rmSync(noMemory, { recursive: true, force: true }))
  appendFileSync(path.join(noMemory, 'cgroup.controllers'), 'cpu pids\n')
  t.equal(createMemoryLimiter(noMemory, SILENT_LOGGER).mode, 'watch')
  t.equal(createMemoryLimiter(undefined, SILENT_LOGGER).mode, 'watch')
  t.equal(createMemoryLimiter('/proc/no/such/cgroup', SILENT_LOGGER).mode, 'watch')
})
