import t from 'tap'
import { hashToken } from '../../src/hub/tokens.ts'
import { ADMIN_PASSWORD, startTestHub } from '../helpers/hub.ts'

t.test('login returns a session token whose hash alone is stored', async t => {
  const hub = await startTestHub(t)
  const res = await hub.request('POST', '/api/auth/login', { body: { username: 'admin', password: ADMIN_PASSWORD } })
  t.equal(res.status, 201)
  t.match(res.body, { token: String, expiresAt: String, user: { username: 'admin', role: 'ADMIN' } })
  t.notOk('passwordHash' in res.body.user, 'no password hash leaves the hub')
  t.same(res.body.user.permissions.sort(), ['nodes.manage', 'servers.console', 'servers.control', 'servers.create', 'servers.delete', 'servers.view', 'users.manage'])
  const rows = await hub.app.db.prisma.session.findMany()
  t.equal(rows.length, 1)
  t.equal(rows[0]?.tokenHash, hashToken(res.body.token))
  t.not(rows[0]?.tokenHash, res.body.token)
  const ttl = new Date(res.body.expiresAt).getTime() - Date.now()
  t.ok(ttl > 86_000_000 && ttl <= 86_400_000, 'sessions last HUB_SESSION_TTL_S')
})

t.test('unknown user and wrong password get the same 401', async t => {
  const hub = await startTestHub(t)
  const wrong = await hub.request('POST', '/api/auth/login', { body: { username: 'admin', password: 'nope-nope' } })
  const unknown = await hub.request('POST', '/api/auth/login', { body: { username: 'ghost', password: 'nope-nope' } })
  t.equal(wrong.status, 401)
  t.same(unknown, wrong)
  t.same(wrong.body, { error: { code: 'UNAUTHORIZED', message: 'invalid username or password' } })
})

t.test('malformed login bodies are 400 in the contract shape', async t => {
  const hub = await startTestHub(t)
  for (const body of [{}, { username: 'admin' }, { username: 'admin', password: 1 }, { username: 'a', password: 'b', extra: true }]) {
    const res = await hub.request('POST', '/api/auth/login', { body })
    t.equal(res.status, 400, JSON.stringify(body))
    t.equal(res.body.error.code, 'BAD_REQUEST')
  }
  const notJson = await hub.request('POST', '/api/auth/login', { headers: { 'content-type': 'application/json' }, body: undefined })
  t.equal(notJson.status, 400)
})

t.test('failed logins are limited per username and per IP', async t => {
  const hub = await startTestHub(t, { loginMaxAttempts: 3 })
  for (let i = 0; i < 3; i++) {
    t.equal((await hub.request('POST', '/api/auth/login', { body: { username: 'admin', password: 'wrong-password' } })).status, 401)
  }
  const limited = await hub.request('POST', '/api/auth/login', { body: { username: 'admin', password: ADMIN_PASSWORD } })
  t.equal(limited.status, 429, 'even the right password is refused while the username is limited')
  t.equal(limited.body.error.code, 'RATE_LIMITED')
  // The IP is limited too: another username from the same address is refused.
  t.equal((await hub.request('POST', '/api/auth/login', { body: { username: 'someone', password: 'x' } })).status, 429)
})

t.test('the limit window passes and a success clears the username count', async t => {
  let now = Date.parse('2026-01-01T00:00:00Z')
  const hub = await startTestHub(t, { loginMaxAttempts: 2, loginWindowMs: 60_000 }, { now: () => new Date(now) })
  const attempt = async (password: string) => (await hub.request('POST', '/api/auth/login', { body: { username: 'admin', password } })).status
  t.equal(await attempt('wrong-password'), 401)
  t.equal(await attempt('wrong-password'), 401)
  t.equal(await attempt(ADMIN_PASSWORD), 429)
  now += 60_001
  t.equal(await attempt(ADMIN_PASSWORD), 201)
})

t.test('bearer authentication on /api', async t => {
  let now = Date.now()
  const hub = await startTestHub(t, { sessionTtlS: 60 }, { now: () => new Date(now) })
  const token = await hub.adminToken()
  const me = await hub.request('GET', '/api/me', { token })
  t.equal(me.status, 200)
  t.match(me.body, { username: 'admin', email: 'admin@localhost', role: 'ADMIN' })
  t.equal(me.body.permissions.length, 7)

  const bad: Array<Record<string, string>> = [{}, { authorization: 'Bearer' }, { authorization: 'Basic abc' }, { authorization: 'Bearer a b' }, { authorization: `Bearer ${'x'.repeat(10_000)}` }, { authorization: 'Bearer forged-token' }]
  for (const headers of bad) {
    const res = await hub.request('GET', '/api/me', { headers })
    t.equal(res.status, 401, JSON.stringify(headers).slice(0, 40))
    t.same(res.body, { error: { code: 'UNAUTHORIZED', message: 'a valid session token is required' } })
  }

  now += 61_000
  t.equal((await hub.request('GET', '/api/me', { token })).status, 401, 'an expired session is refused')
})

t.test('logout revokes the session', async t => {
  const hub = await startTestHub(t)
  const token = await hub.adminToken()
  t.equal((await hub.request('POST', '/api/auth/logout', { token })).status, 204)
  t.equal((await hub.request('GET', '/api/me', { token })).status, 401)
  t.equal((await hub.request('POST', '/api/auth/logout', { token })).status, 401)
  const row = await hub.app.db.prisma.session.findFirst()
  t.type(row?.revokedAt, Date)
})
