// Issue 10 item 17: one authentication hook for every /api route, run before validation and
// before any lookup; only login is open. An anonymous caller learns nothing but 401.
import t from 'tap'
import { startTestHub } from '../helpers/hub.ts'

t.test('every /api route but login answers an anonymous caller 401, before validation', async t => {
  const hub = await startTestHub(t)
  const server = await hub.app.db.prisma.server.findFirst()
  const id = server?.id ?? '6b1e0f38-4c5e-4d7e-9f5e-1b2c3d4e5f60'
  const probes: Array<[string, string, unknown?]> = [
    ['POST', `/api/servers/${id}/actions`, { action: 'NOT-AN-ACTION', extra: 1 }],
    ['POST', '/api/servers/not-a-uuid/actions', { action: 'KILL' }],
    ['GET', '/api/servers/not-a-uuid/actions'],
    ['GET', '/api/actions/not-a-uuid'],
    ['GET', '/api/me'],
    ['POST', '/api/auth/logout'],
    ['POST', '/api/ws-ticket'],
    ['GET', '/api/users?limit=0'],
    ['POST', '/api/users', { nope: true }],
    ['GET', '/api/nodes'],
    ['GET', '/api/servers?limit=0'],
    ['GET', '/api/no-such-route']
  ]
  for (const [method, path, body] of probes) {
    const res = await hub.request(method, path, { body })
    t.equal(res.status, 401, `${method} ${path}`)
    t.equal(res.body?.error?.code, 'UNAUTHORIZED', `${method} ${path}`)
  }
  for (const path of ['/%61pi/me', '/%61pi/auth/logout', '/api/%6De']) {
    const res = await hub.request(path.endsWith('logout') ? 'POST' : 'GET', path)
    t.ok(res.status === 401 || res.status === 404, `${path}: another spelling is no way around the hook (${res.status})`)
  }
  const login = await hub.request('POST', '/api/auth/login', { body: { username: 'admin', password: 'wrong' } })
  t.equal(login.status, 401, 'login is open: a wrong password, not a missing session')
  t.equal((await hub.request('POST', '/api/auth/login', { body: { nope: 1 } })).status, 400, 'login validates without a session')
  t.equal((await hub.request('GET', '/healthz')).status, 200, 'paths outside /api are not touched')
  const admin = await hub.adminToken()
  t.equal((await hub.request('POST', `/api/servers/${id}/actions`, { token: admin, body: { action: 'NOT-AN-ACTION' } })).status, 400, 'with a session, validation answers')
})
