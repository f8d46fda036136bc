// Panel sockets per session and per client address are capped: over a cap the upgrade is refused
// with 429 and Retry-After, before any socket exists; a closed socket frees its slot.
import { once } from 'node:events'
import t from 'tap'
import WebSocket from 'ws'
import { createSocketCaps } from '../../../src/hub/panel/socket-caps.ts'
import { loadConfig } from '../../../src/hub/config.ts'
import { startTestHub } from '../../helpers/hub.ts'
import { addUser } from './fixtures.ts'

/** Opens /panel/v1: the open socket, or the refusal's status and Retry-After. */
async function upgrade (url: string, token: string): Promise<{ ws?: WebSocket, status: number, retryAfter?: string }> {
  const ws = new WebSocket(url.replace('http', 'ws') + '/panel/v1', { headers: { authorization: `Bearer ${token}` } })
  ws.on('error', () => {})
  return await Promise.race([
    once(ws, 'unexpected-response').then(([, res]) => {
      ws.terminate()
      return { status: res.statusCode as number, retryAfter: res.headers['retry-after'] as string | undefined }
    }),
    once(ws, 'open').then(() => ({ ws, status: 101 })),
    new Promise<never>((resolve, reject) => setTimeout(() => reject(new Error('no upgrade answer within 10 s')), 10_000).unref())
  ])
}

t.test('caps per session and per address: 429 with Retry-After before the upgrade, slots freed on close', async t => {
  const hub = await startTestHub(t, { panelMaxSocketsPerSession: 2, panelMaxSocketsPerAddress: 3 })
  const alice = await addUser(hub, 'alice')
  const bob = await addUser(hub, 'bob')
  const open: WebSocket[] = []
  t.teardown(() => { for (const ws of open) ws.terminate() })
  const a1 = await upgrade(hub.url, alice.token)
  const a2 = await upgrade(hub.url, alice.token)
  t.same([a1.status, a2.status], [101, 101])
  open.push(a1.ws!, a2.ws!)
  const a3 = await upgrade(hub.url, alice.token)
  t.same(a3, { status: 429, retryAfter: '10' }, 'a third socket of the session is refused before the upgrade')
  t.equal(hub.app.panels.size(), 2, 'no session was created for it')

  const b1 = await upgrade(hub.url, bob.token)
  t.equal(b1.status, 101, 'another session from the same address, within the address cap')
  open.push(b1.ws!)
  const b2 = await upgrade(hub.url, bob.token)
  t.same(b2, { status: 429, retryAfter: '10' }, 'the address cap (3) counts every session')

  a1.ws!.close()
  await once(a1.ws!, 'close')
  let again = await upgrade(hub.url, alice.token)
  const deadline = Date.now() + 5_000
  while (again.status === 429 && Date.now() < deadline) {
    await new Promise(resolve => setTimeout(resolve, 50)) // the server sees the TCP close a moment later
    again = await upgrade(hub.url, alice.token)
  }
  t.equal(again.status, 101, 'a closed socket frees its slot')
  open.push(again.ws!)
})

t.test('the defaults leave room for npm run simulate (1,000 panels, one session, one address)', async t => {
  const config = loadConfig({})
  t.ok(config.panelMaxSocketsPerSession >= 1_000)
  t.ok(config.panelMaxSocketsPerAddress >= 1_000)
  const caps = createSocketCaps({ perSession: config.panelMaxSocketsPerSession, perAddress: config.panelMaxSocketsPerAddress })
  const releases = Array.from({ length: 1_000 }, () => caps.reserve('one-session', '127.0.0.1'))
  t.notOk(releases.includes(undefined), '1,000 slots under one session and address')
  releases.forEach(r => r?.())
  releases.forEach(r => r?.()) // a second release is a no-op
  t.equal(caps.count({ sessionId: 'one-session' }), 0)
  t.equal(caps.count({ address: '127.0.0.1' }), 0)
})
