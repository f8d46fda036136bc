// SIGTERM to the process group of `npm start`, as a terminal's Ctrl-C or systemd would send it:
// every agent and panel socket is told 1001 (going away: reconnect), not a close without a code
// (1005), and the hub exits 0.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { chmod, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import t, { type Test } from 'tap'
import WebSocket from 'ws'
import { createTestDatabase } from '../helpers/database.ts'

const ROOT = path.resolve(import.meta.dirname, '../..')
const PASSWORD = 'admin-password-shutdown'

const within = <T> (p: Promise<T>, ms: number, what: string) => Promise.race([
  p,
  new Promise<never>((resolve, reject) => setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms).unref())
])

/** Opens a socket, waits for the first frame of `type`, and resolves `closed` with the close code. */
async function open (url: string, headers: Record<string, string>, first: unknown, type: string) {
  const ws = new WebSocket(url, { headers })
  const closed = once(ws, 'close').then(([code]) => code as number)
  const got = new Promise<void>(resolve => ws.on('message', data => { if (JSON.parse(String(data)).type === type) resolve() }))
  await within(once(ws, 'open'), 10_000, `${url} open`)
  if (first !== undefined) ws.send(JSON.stringify(first))
  await within(got, 10_000, `${url} ${type}`)
  return { ws, closed }
}

async function shutdownCase (t: Test, command: string, args: string[]) {
  const { url: databaseUrl } = await createTestDatabase(t)
  const dataDir = await mkdtemp(path.join(tmpdir(), 'hub-shutdown-'))
  await chmod(dataDir, 0o755)
  t.teardown(() => rm(dataDir, { recursive: true, force: true }))
  // detached: the child leads its own process group (with npm: npm and the hub it starts), as a
  // shell or systemd would start it.
  const child = spawn(command, args, {
    cwd: ROOT,
    detached: true,
    env: { ...process.env, DATABASE_URL: databaseUrl, HUB_DATA_DIR: dataDir, HUB_PORT: '0', NODE_ENV: 'test', HUB_ADMIN_PASSWORD: PASSWORD, LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  const pgid = child.pid as number
  t.teardown(() => { try { process.kill(-pgid, 'SIGKILL') } catch {} })
  let output = ''
  child.stderr.on('data', chunk => { output += chunk })
  const url = await within(new Promise<string>(resolve => {
    child.stdout.on('data', chunk => {
      output += chunk
      const match = /hub ready at (http:\/\/\S+)/.exec(output)
      if (match?.[1] !== undefined) resolve(match[1])
    })
  }), 60_000, 'hub ready').catch(err => { throw new Error(`${err.message}\n${output.slice(-3000)}`) })

  const api = async (method: string, p: string, token?: string, body?: unknown) => {
    const res = await fetch(url + p, {
      method,
      headers: { ...(token === undefined ? {} : { authorization: `Bearer ${token}` }), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(10_000)
    })
    return await res.json() as any
  }
  const token = (await api('POST', '/api/auth/login', undefined, { username: 'admin', password: PASSWORD })).token as string
  const { agentToken } = await api('POST', '/api/nodes', token, { name: 'n1' })
  const ws = url.replace('http', 'ws')
  const agent = await open(`${ws}/agent/v1`, { authorization: `Bearer ${agentToken}` }, { type: 'hello', protocol: 1, agentVersion: 't', servers: [] }, 'welcome')
  const panel = await open(`${ws}/panel/v1`, { authorization: `Bearer ${token}` }, undefined, 'ready')

  process.kill(-pgid, 'SIGTERM')
  // 'close': the child and whatever it started have exited (the hub holds the same stdout).
  const [code, signal] = await within(once(child, 'close'), 20_000, 'exit') as [number | null, string | null]
  t.equal(await within(agent.closed, 5_000, 'agent close'), 1001, 'the agent is told going away')
  t.equal(await within(panel.closed, 5_000, 'panel close'), 1001, 'the panel is told going away')
  t.match(output, /"msg":"hub stopped"/, 'the hub shut down gracefully')
  t.notMatch(output, /second SIGTERM/, 'one signal was enough')
  return { code, signal, output }
}

t.test('SIGTERM to the process group of the hub: agents and panels get 1001, the hub exits 0', async t => {
  const { code, output } = await shutdownCase(t, process.execPath, ['src/hub/main.ts'])
  t.equal(code, 0, code === 0 ? 'the hub exits 0' : output.slice(-2000))
})

t.test('SIGTERM to the process group of npm start: agents and panels get 1001', async t => {
  // npm forwards the signal to the hub, waits for it, then ends itself by the same signal.
  const { signal } = await shutdownCase(t, 'npm', ['start', '--silent'])
  t.equal(signal, 'SIGTERM')
})
