// HTTP timeouts: slow or idle HTTP clients are cut off, an upgraded WebSocket is not.
import { once } from 'node:events'
import net from 'node:net'
import t from 'tap'
import { loadConfig } from '../../src/hub/config.ts'
import { startTestHub } from '../helpers/hub.ts'
import { addNode, connectRaw, hello } from '../helpers/raw-agent.ts'

const TIMEOUTS = { httpRequestTimeoutMs: 400, httpHeadersTimeoutMs: 300, httpConnectionTimeoutMs: 500, httpKeepAliveTimeoutMs: 300 }

/** Opens a raw TCP connection, writes `text`, and resolves with what the server sent once it closed (or rejects after `ms`). */
async function rawExchange (url: string, text: string, ms: number): Promise<{ answer: string, afterMs: number }> {
  const { hostname, port } = new URL(url)
  const socket = net.connect(Number(port), hostname)
  await once(socket, 'connect')
  const started = Date.now()
  let answer = ''
  socket.on('data', chunk => { answer += String(chunk) })
  if (text !== '') socket.write(text)
  const timer = setTimeout(() => socket.destroy(new Error(`still open after ${ms} ms; got ${JSON.stringify(answer)}`)), ms)
  try {
    await once(socket, 'close')
    const err = socket.errored
    if (err !== null && err.message.startsWith('still open')) throw err
    return { answer, afterMs: Date.now() - started }
  } finally {
    clearTimeout(timer)
  }
}

t.test('defaults and validation', async t => {
  const config = loadConfig({})
  t.same([config.httpRequestTimeoutMs, config.httpHeadersTimeoutMs, config.httpConnectionTimeoutMs, config.httpKeepAliveTimeoutMs], [30_000, 10_000, 60_000, 72_000])
  t.throws(() => loadConfig({ HUB_HTTP_HEADERS_TIMEOUT_MS: '20000', HUB_HTTP_REQUEST_TIMEOUT_MS: '10000' }), /HUB_HTTP_HEADERS_TIMEOUT_MS: must not exceed/)
})

t.test('a login whose body never finishes is cut off with 408', async t => {
  const hub = await startTestHub(t, TIMEOUTS)
  const { answer } = await rawExchange(hub.url,
    'POST /api/auth/login HTTP/1.1\r\nHost: hub\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"username":"adm', 5_000)
  t.match(answer, /^HTTP\/1\.1 408/, 'the slow body gets 408 Request Timeout and the socket closes')
})

t.test('headers sent a little at a time are cut off', async t => {
  const hub = await startTestHub(t, TIMEOUTS)
  const { answer } = await rawExchange(hub.url, 'POST /api/auth/login HTTP/1.1\r\nHost: hub\r\n', 5_000)
  t.match(answer, /^HTTP\/1\.1 408/)
})

t.test('a connection that never sends anything and an idle kept-alive connection are closed', async t => {
  const hub = await startTestHub(t, TIMEOUTS)
  await rawExchange(hub.url, '', 5_000)
  t.pass('a silent connection was closed')
  const { answer } = await rawExchange(hub.url, 'GET /healthz HTTP/1.1\r\nHost: hub\r\n\r\n', 5_000)
  t.match(answer, /^HTTP\/1\.1 200/, 'the kept-alive connection closed after its request, once idle')
})

t.test('an upgraded WebSocket left idle longer than every HTTP timeout stays open', async t => {
  // Keep-alive of 2 s here, not 300 ms: Node announces it as `Keep-Alive: timeout=<whole seconds>`,
  // and with 0 the test's own fetch (setup requests) may reuse a pooled socket just as the hub
  // closes it ("other side closed"). The WebSocket still idles longer than every timeout.
  const timeouts = { ...TIMEOUTS, httpKeepAliveTimeoutMs: 2_000 }
  const hub = await startTestHub(t, timeouts)
  const { agentToken, servers } = await addNode(hub, 'idle-node')
  const agent = await connectRaw(hub, agentToken)
  t.teardown(() => agent.close())
  await hello(agent, servers)
  // Idle for twice the longest HTTP timeout, plus Node's check interval: a bounded wait is
  // what this test is about (nothing may happen), so it is a timer, not an awaited event.
  const idleMs = 2 * Math.max(...Object.values(timeouts)) + 500
  const outcome = await Promise.race([
    agent.closed.then(([code]) => `closed with ${code}`),
    new Promise<string>(resolve => setTimeout(resolve, idleMs, 'open'))
  ])
  t.equal(outcome, 'open', `still open after ${idleMs} ms idle`)
  agent.send({ type: 'status', serverId: servers[0], status: 'STARTING', seq: 1, at: new Date().toISOString() })
  const ack = await agent.next('status.ack')
  t.equal(ack.serverId, servers[0], 'and it still works')
})
