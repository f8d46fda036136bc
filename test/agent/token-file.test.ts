// AGENT_TOKEN_FILE: the token read from a file whose mode is checked as ssh checks a private key's,
// and, in a real agent process, never seen by a game: neither from the file nor from AGENT_TOKEN.
import { spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import t from 'tap'
import { AgentConfigError, loadAgentConfig } from '../../src/agent/config.ts'
import { readTokenFile } from '../../src/agent/token-file.ts'
import { startFakeHub } from './fake-hub.ts'
import { gameConfig, makeDataDir, type Teardown } from './helpers.ts'

const MAIN = new URL('../../src/agent/main.ts', import.meta.url).pathname
const TOKEN = `file-token-${randomUUID()}`

function tempDir (t: Teardown): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'agent-token-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

function tokenFile (dir: string, mode: number, content = `${TOKEN}\n`): string {
  const file = path.join(dir, `token-${mode.toString(8)}`)
  writeFileSync(file, content, { mode })
  chmodSync(file, mode)
  return file
}

const uid = process.getuid?.() ?? 0
const base = { AGENT_HUB_URL: 'ws://a:1/agent/v1', AGENT_DATA_DIR: '/d' }

t.test('a token file: read when private, refused with a clear message when its group or others may read it', async (t) => {
  const dir = tempDir(t)
  t.equal(readTokenFile(tokenFile(dir, 0o600), uid), TOKEN, 'a trailing newline is dropped')
  t.equal(readTokenFile(tokenFile(dir, 0o400), uid), TOKEN)
  t.equal(loadAgentConfig({ ...base, AGENT_TOKEN_FILE: tokenFile(dir, 0o600) }, uid).token, TOKEN)
  for (const mode of [0o640, 0o604, 0o644, 0o660]) {
    const file = tokenFile(dir, mode)
    const err = t.throws(() => loadAgentConfig({ ...base, AGENT_TOKEN_FILE: file }, uid)) as AgentConfigError
    t.same(err.problems, [`AGENT_TOKEN_FILE: permissions 0${mode.toString(8)} for ${file} are too open: its group and others must have no access (chmod 600 ${file})`])
    t.notMatch(err.message, TOKEN, 'the token is never echoed')
  }
  // Owned by someone else (neither the agent's user nor root): as root, given to nobody (65534).
  const mine = tokenFile(dir, 0o600)
  const other = tokenFile(dir, 0o400)
  if (uid === 0) chownSync(other, 65534, 65534)
  t.match(String(t.throws(() => readTokenFile(other, uid === 0 ? 0 : uid + 4242))), /belongs to uid \d+; it must belong to the agent's user \(uid \d+\) or root/)
  mkdirSync(path.join(dir, 'folder'), { mode: 0o700 })
  t.match(String(t.throws(() => readTokenFile(path.join(dir, 'folder'), uid))), /is not a regular file/)
  t.match(String(t.throws(() => readTokenFile(path.join(dir, 'missing'), uid))), /cannot open .*missing: ENOENT/)
  t.match(String(t.throws(() => readTokenFile(tokenFile(dir, 0o600, 'x'.repeat(20_000)), uid))), /larger than/)
  t.match((t.throws(() => loadAgentConfig({ ...base, AGENT_TOKEN_FILE: mine, AGENT_TOKEN: 'x'.repeat(20) }, uid)) as AgentConfigError).problems,
    ['AGENT_TOKEN_FILE: AGENT_TOKEN is set too; give the token one way only'])
  t.match((t.throws(() => loadAgentConfig({ ...base, AGENT_TOKEN_FILE: 'relative/token' }, uid)) as AgentConfigError).problems,
    [/^AGENT_TOKEN_FILE: must be an absolute path/])
  const short = tokenFile(dir, 0o600, 'short\n')
  t.same((t.throws(() => loadAgentConfig({ ...base, AGENT_TOKEN_FILE: short }, uid)) as AgentConfigError).problems.map((p) => p.split(':')[0]), ['AGENT_TOKEN_FILE'])
  t.match((t.throws(() => loadAgentConfig(base, uid)) as AgentConfigError).problems, [/^AGENT_TOKEN: required \(or AGENT_TOKEN_FILE/])
})

/** Starts `node src/agent/main.ts`, has its game print its environment, and returns what it printed. */
async function gameEnvironmentOf (t: Teardown, env: Record<string, string>) {
  const hub = await startFakeHub(t)
  const child = spawn(process.execPath, [MAIN], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/', LOG_LEVEL: 'warn', AGENT_GAME_USER: 'gpdaemon', AGENT_HUB_URL: hub.url, AGENT_DATA_DIR: makeDataDir(t), ...env },
    stdio: ['ignore', 'ignore', 'inherit']
  })
  t.teardown(() => child.kill('SIGKILL'))
  const conn = await hub.connections.wait(() => true, 'the agent', 20_000)
  await conn.next('hello', undefined, 20_000)
  conn.welcome()
  const config = gameConfig()
  const command = (action: string, input?: string) => {
    const issuedAt = new Date().toISOString()
    const expiresAt = new Date(Date.now() + 60_000).toISOString()
    return { type: 'command', commandId: randomUUID(), serverId: config.serverId, action, issuedAt, expiresAt, ...(input === undefined ? {} : { input }) }
  }
  conn.send({ type: 'server.config', ...config })
  await conn.next('server.config.ack')
  conn.send(command('START'))
  await conn.next('status', (f) => f.status === 'RUNNING')
  conn.send(command('COMMAND', 'env'))
  const lines: string[] = []
  await conn.next('console', (f) => {
    lines.push(...(f.lines as string[]))
    return lines.some((l) => l.startsWith('SERVER_PORT='))
  })
  const agentEnviron = readFileSync(`/proc/${child.pid as number}/environ`, 'utf8')
  conn.send(command('STOP'))
  await conn.next('status', (f) => f.status === 'STOPPED')
  return { authorization: conn.authorization, lines, agentEnviron }
}

t.test('a real agent with AGENT_TOKEN_FILE: the token authenticates, and is in neither the game\'s nor the agent\'s environment', async (t) => {
  const dir = tempDir(t)
  const { authorization, lines, agentEnviron } = await gameEnvironmentOf(t, { AGENT_TOKEN_FILE: tokenFile(dir, 0o600) })
  t.equal(authorization, `Bearer ${TOKEN}`)
  t.ok(lines.some((l) => l.startsWith('PATH=')), 'the game printed its environment')
  t.notOk(lines.some((l) => l.includes(TOKEN) || l.startsWith('AGENT_')), 'no token, no AGENT_ variable in the game')
  t.notOk(agentEnviron.includes(TOKEN), '/proc/<agent>/environ holds no token')
})

t.test('a real agent with AGENT_TOKEN: the game never inherits it', async (t) => {
  const token = `env-token-${randomUUID()}`
  const { authorization, lines, agentEnviron } = await gameEnvironmentOf(t, { AGENT_TOKEN: token })
  t.equal(authorization, `Bearer ${token}`)
  t.ok(lines.some((l) => l.startsWith('PATH=')), 'the game printed its environment')
  t.notOk(lines.some((l) => l.includes(token) || l.startsWith('AGENT_')), 'no token, no AGENT_ variable in the game')
  // What docs/agent.md warns about: the kernel's copy of the initial environment keeps it.
  t.ok(agentEnviron.includes(token), '/proc/<agent>/environ still shows it (hence AGENT_TOKEN_FILE)')
})
