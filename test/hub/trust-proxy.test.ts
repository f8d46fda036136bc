// Issue 10 item 15: behind a reverse proxy listed in HUB_TRUST_PROXY, the client IP comes from
// X-Forwarded-For, so one client's failed logins do not lock out the others; from any other peer
// the header is ignored.
import t from 'tap'
import { trustedProxies } from '../../src/hub/build-hub.ts'
import { ADMIN_PASSWORD, startTestHub, type TestHub } from '../helpers/hub.ts'

const login = async (hub: TestHub, username: string, password: string, client: string) =>
  await hub.request('POST', '/api/auth/login', { body: { username, password }, headers: { 'x-forwarded-for': client } })

async function tenFailuresFrom (hub: TestHub, client: string) {
  for (let i = 0; i < 10; i++) await login(hub, `guess-${i}`, 'wrong-password', client)
}

t.test('through a trusted proxy: ten wrong logins from client A do not lock out client B', async t => {
  const hub = await startTestHub(t, { trustProxy: '10.9.9.9, 127.0.0.0/8' })
  await tenFailuresFrom(hub, '203.0.113.1')
  const a = await login(hub, 'admin', ADMIN_PASSWORD, '203.0.113.1')
  t.equal(a.status, 429, 'client A is limited')
  t.ok(Number(a.headers.get('retry-after')) >= 1)
  const b = await login(hub, 'admin', ADMIN_PASSWORD, '198.51.100.7')
  t.equal(b.status, 201, 'client B is not')
  const session = await hub.app.db.prisma.session.findFirstOrThrow({ orderBy: { createdAt: 'desc' } })
  t.equal(session.ipAddress, '198.51.100.7', 'the session records the client, not the proxy')
  // A chain: the right-most address that is not a trusted proxy is the client.
  const chained = await login(hub, 'admin', ADMIN_PASSWORD, '203.0.113.1, 198.51.100.8, 10.9.9.9')
  t.equal(chained.status, 201, 'the client is 198.51.100.8; the spoofable left part is not believed')
})

t.test('an untrusted peer\'s X-Forwarded-For is ignored', async t => {
  const hub = await startTestHub(t, { trustProxy: '10.9.9.9' })
  await tenFailuresFrom(hub, '203.0.113.1')
  t.equal((await login(hub, 'admin', ADMIN_PASSWORD, '198.51.100.7')).status, 429, 'the peer (127.0.0.1) is the client whatever the header says')
  const plain = await startTestHub(t)
  await login(plain, 'admin', 'wrong-password', '198.51.100.7')
  const session = await plain.request('POST', '/api/auth/login', { body: { username: 'admin', password: ADMIN_PASSWORD }, headers: { 'x-forwarded-for': '198.51.100.7' } })
  t.equal(session.status, 201)
  const row = await plain.app.db.prisma.session.findFirstOrThrow()
  t.equal(row.ipAddress, '127.0.0.1', 'by default no proxy is trusted')
})

t.test('HUB_TRUST_PROXY parses to a list, empty to false', async t => {
  t.equal(trustedProxies(''), false)
  t.equal(trustedProxies(' , '), false)
  t.same(trustedProxies('10.0.0.1, 192.168.0.0/16,::1'), ['10.0.0.1', '192.168.0.0/16', '::1'])
})
