// Direct console links between hubs (console/hub-links.ts, link-auth.ts): lines of an agent on
// hub A reach a panel on hub B over one authenticated WebSocket, not through PostgreSQL; the
// link endpoint refuses anyone without a token of this database's hubs; an unreachable address,
// an impostor at the advertised address, a lost link and HUB_LINK_URL=off all fall back to NOTIFY
// and lose no line a reading panel waits for. Two real hubs, one PostgreSQL, real sockets.
import { once } from 'node:events'
import { createServer, type AddressInfo, type Socket } from 'node:net'
import t, { type Test } from 'tap'
import { WebSocket, WebSocketServer } from 'ws'
import { createPanelClient } from '../../agent-simulator/panel-client.ts'
import { createLinkAuth } from '../../src/hub/console/link-auth.ts'
import { LINK_PATH } from '../../src/hub/console/hub-links.ts'
import { sharedSecret } from '../../src/db/sql/hub-secrets.ts'
import type { Config } from '../../src/hub/config.ts'
import { startTestHub, type TestHub } from '../helpers/hub.ts'
import { addNode, connectRaw } from '../helpers/raw-agent.ts'
import { freePort } from '../helpers/hub-process.ts'
import { waitFor } from '../helpers/wait.ts'

const HUB = { heartbeatMs: 60_000 }

/** Hub A with an agent on server s1, hub B (with `b`'s config) with an admin panel watching s1's console. */
async function pair (t: Test, b: Partial<Config> = {}) {
  const a = await startTestHub(t, HUB)
  const hb = await startTestHub(t, { ...HUB, ...b }, { databaseUrl: a.databaseUrl })
  const { agentToken, servers: [s1] } = await addNode(a, 'n1')
  const agent = await connectRaw(a, agentToken)
  t.teardown(() => agent.close())
  agent.send({ type: 'hello', protocol: 1, agentVersion: 'raw', features: ['console', 'stats'], servers: [{ serverId: s1, status: 'RUNNING', seq: 1 }] })
  await agent.next('welcome')
  const panel = createPanelClient({ url: hb.url, token: await hb.adminToken(), timeoutMs: 5_000 })
  t.teardown(() => panel.terminate())
  await panel.connect()
  t.match(await panel.subscribe({ servers: [s1!], console: true }), { type: 'subscribed' })
  await waitFor('hub A knows of the watch', async () => a.app.consoleRelay.interestedHubs(s1!).length > 0)
  /** Sends `line` from the agent and waits until the panel has it. */
  const roundTrip = async (line: string) => {
    agent.send({ type: 'console', serverId: s1, lines: [line] })
    return await panel.next(f => f.type === 'console' && f.lines.includes(line))
  }
  return { a, b: hb, s1: s1!, agent, panel, roundTrip }
}

t.test('lines go over the direct link, not through PostgreSQL', async t => {
  const { a, b, roundTrip } = await pair(t)
  await roundTrip('one')
  await waitFor('the link is open', async () => a.app.consoleLinks.open === 1)
  const before = { ...a.app.consoleRelay.sent }
  for (let i = 0; i < 20; i++) await roundTrip(`line ${i}`)
  t.ok(a.app.consoleRelay.sent.link - before.link >= 20, 'each line went in a link frame')
  t.equal(a.app.consoleRelay.sent.notify, before.notify, 'no NOTIFY carried lines once the link was open')
  t.equal(a.app.consoleRelay.dropped, 0)
  const metrics = async (h: TestHub) => String((await h.request('GET', '/metrics')).body)
  t.match(await metrics(a), /hub_console_links\{direction="out"\} 1/)
  t.match(await metrics(b), /hub_console_links\{direction="in"\} 1/)
  t.match(await metrics(a), new RegExp(`hub_console_relay_sent\\{carrier="link"\\} ${a.app.consoleRelay.sent.link}`))
})

t.test('the link endpoint refuses anyone without a token of this database\'s hubs, for this hub', async t => {
  const a = await startTestHub(t, HUB)
  const b = await startTestHub(t, HUB, { databaseUrl: a.databaseUrl })
  const url = b.url.replace(/^http/, 'ws') + LINK_PATH
  const status = async (headers: Record<string, string>) => {
    const ws = new WebSocket(url, { headers })
    const [, res] = await Promise.race([once(ws, 'unexpected-response'), once(ws, 'open').then(() => [undefined, { statusCode: 101 }])]) as [unknown, { statusCode: number }]
    ws.terminate()
    return res.statusCode
  }
  const secret = await sharedSecret(a.app.db.pool, 'console-link')
  const hubA = createLinkAuth(secret, a.app.consoleHubId)
  const addrB = b.url.replace(/^http/, 'ws')
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` })
  t.equal(await status({}), 401, 'no token')
  t.equal(await status(bearer('not-a-jwt')), 401, 'not a token')
  t.equal(await status(bearer((await hubA.sign('00000000-0000-4000-8000-00000000000b', { use: 'dial', addr: addrB })).token)), 401, 'a good token, for another hub')
  const forged = (await createLinkAuth(Buffer.alloc(32, 7), a.app.consoleHubId).sign(b.app.consoleHubId, { use: 'dial', addr: addrB })).token
  t.equal(await status(bearer(forged)), 401, 'signed with another secret')
  const elsewhere = (await hubA.sign(b.app.consoleHubId, { use: 'dial', addr: 'ws://203.0.113.9:8080' })).token
  t.equal(await status(bearer(elsewhere)), 401, 'a token A sent to another address (a forged watch advertised it)')
  const welcome = (await createLinkAuth(secret, a.app.consoleHubId).sign(b.app.consoleHubId, { use: 'welcome', nonce: 'n' })).token
  t.equal(await status(bearer(welcome)), 401, 'a welcome A gave is no dial token')
  const good = (await hubA.sign(b.app.consoleHubId, { use: 'dial', addr: addrB })).token
  t.equal(await status(bearer(good)), 101, 'A\'s token, for B at B\'s address: the link opens')
  t.equal(await status(bearer(good)), 401, 'the same token again (copied off the wire): refused')
  t.equal(await sharedSecret(b.app.db.pool, 'console-link').then(s => s.equals(secret)), true, 'both hubs read the same secret')
})

t.test('an unreachable advertised address: the lines come by NOTIFY', async t => {
  const port = await freePort()
  const { a, roundTrip } = await pair(t, { linkUrl: `ws://127.0.0.1:${port}` })
  for (let i = 0; i < 5; i++) await roundTrip(`line ${i}`)
  t.equal(a.app.consoleLinks.open, 0)
  t.ok(a.app.consoleRelay.sent.notify >= 1, 'NOTIFY carried them')
})

t.test('HUB_LINK_URL=off: no address advertised, the lines come by NOTIFY', async t => {
  const { a, roundTrip } = await pair(t, { linkUrl: 'off' })
  for (let i = 0; i < 5; i++) await roundTrip(`line ${i}`)
  t.equal(a.app.consoleLinks.open, 0)
  t.equal(a.app.consoleRelay.sent.link, 0)
})

t.test('an impostor at the advertised address gets no line: it cannot prove it is the hub', async t => {
  const impostor = new WebSocketServer({ port: 0, host: '127.0.0.1' })
  t.teardown(() => impostor.close())
  await once(impostor, 'listening')
  const received: string[] = []
  impostor.on('connection', ws => {
    ws.send(JSON.stringify({ type: 'link.welcome', token: 'forged', maxFrameBytes: 65_536 }))
    ws.on('message', data => received.push(String(data)))
  })
  const { a, roundTrip } = await pair(t, { linkUrl: `ws://127.0.0.1:${(impostor.address() as AddressInfo).port}` })
  for (let i = 0; i < 5; i++) await roundTrip(`secret ${i}`)
  t.equal(a.app.consoleLinks.open, 0)
  t.notOk(received.some(f => f.includes('secret')), 'no console line went to the impostor')
})

t.test('a lost link: NOTIFY meanwhile, then the link again', async t => {
  const { a, b, s1, agent, roundTrip } = await pair(t)
  await roundTrip('first')
  await waitFor('the link is open', async () => a.app.consoleLinks.open === 1)
  t.equal(b.app.consoleLinksIn.size, 1, 'hub B holds the link A opened')
  for (const link of b.app.consoleLinksIn) link.close(1001, 'test: the link goes')
  await waitFor('the link is seen lost', async () => a.app.consoleLinks.open === 0)
  await roundTrip('while the link is down')
  // Dialled again with the next thing to send once the backoff (1 s) is over: lines keep coming.
  let n = 0
  await waitFor('the link is dialled again', async () => { agent.send({ type: 'console', serverId: s1, lines: [`meanwhile ${n++}`] }); return a.app.consoleLinks.open === 1 }, 10_000, 100)
  const before = a.app.consoleRelay.sent.link
  await roundTrip('after the redial')
  t.ok(a.app.consoleRelay.sent.link > before, 'over the link again')
})

t.test('shutdown with a dial still upgrading: the socket goes at once, not at its 5 s handshake timeout', async t => {
  // Accepts TCP and never answers the upgrade.
  const sockets: Socket[] = []
  const silent = createServer(socket => { sockets.push(socket.resume()) })
  t.teardown(() => { for (const s of sockets) s.destroy(); silent.close() })
  silent.listen(0, '127.0.0.1')
  await once(silent, 'listening')
  const { a, roundTrip } = await pair(t, { linkUrl: `ws://127.0.0.1:${(silent.address() as AddressInfo).port}` })
  await roundTrip('a line to send: hub A dials (and NOTIFY carries it meanwhile)')
  await waitFor('hub A dials the advertised address', async () => sockets.length === 1)
  const closed = once(sockets[0]!, 'close')
  const started = Date.now()
  await a.app.close()
  await Promise.race([closed, new Promise((_resolve, reject) => setTimeout(() => reject(new Error('the dial\'s socket is still open 2 s after close')), 2_000))])
  t.ok(Date.now() - started < 2_000, `closed in ${Date.now() - started} ms`)
})
