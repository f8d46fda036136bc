import t from 'tap'
import { startTestHub, type TestHub } from '../helpers/hub.ts'

async function createUser (hub: TestHub, username: string, role?: 'ADMIN' | 'USER') {
  const res = await hub.request('POST', '/api/users', { token: await hub.adminToken(), body: { username, email: `${username}@example.test`, password: 'correct-horse', ...(role === undefined ? {} : { role }) } })
  if (res.status !== 201) throw new Error(JSON.stringify(res.body))
  return { id: res.body.id as string, token: await hub.login(username, 'correct-horse') }
}

t.test('creating users needs users.manage and never returns the hash', async t => {
  const hub = await startTestHub(t)
  const res = await hub.request('POST', '/api/users', { token: await hub.adminToken(), body: { username: 'alice', email: 'alice@example.test', password: 'correct-horse' } })
  t.equal(res.status, 201)
  t.match(res.body, { id: String, username: 'alice', email: 'alice@example.test', role: 'USER' })
  t.notOk('passwordHash' in res.body)
  const stored = await hub.app.db.prisma.user.findUniqueOrThrow({ where: { username: 'alice' } })
  t.match(stored.passwordHash, /^\$2[aby]\$10\$/, 'stored as a bcrypt hash')

  const alice = await hub.login('alice', 'correct-horse')
  const denied = await hub.request('POST', '/api/users', { token: alice, body: { username: 'bob', email: 'bob@example.test', password: 'correct-horse' } })
  t.equal(denied.status, 403)
  t.equal(denied.body.error.code, 'FORBIDDEN')

  const duplicate = await hub.request('POST', '/api/users', { token: await hub.adminToken(), body: { username: 'alice', email: 'other@example.test', password: 'correct-horse' } })
  t.equal(duplicate.status, 409)
  t.equal(duplicate.body.error.code, 'CONFLICT')

  for (const body of [{ username: 'x', email: 'x@example.test', password: 'correct-horse' }, { username: 'carol', email: 'not-an-email', password: 'correct-horse' }, { username: 'carol', email: 'c@example.test', password: 'short' }, { username: 'carol', email: 'c@example.test', password: 'correct-horse', role: 'ROOT' }]) {
    t.equal((await hub.request('POST', '/api/users', { token: await hub.adminToken(), body })).status, 400, JSON.stringify(body))
  }
})

t.test('grants record the grantor, take effect at once, and revocations too', async t => {
  const hub = await startTestHub(t)
  const admin = await hub.request('GET', '/api/me', { token: await hub.adminToken() })
  const bob = await createUser(hub, 'bob')
  t.same((await hub.request('GET', '/api/me', { token: bob.token })).body.permissions, [], 'a new user holds nothing')
  t.equal((await hub.request('POST', '/api/users', { token: bob.token, body: { username: 'eve', email: 'eve@example.test', password: 'correct-horse' } })).status, 403)

  const grant = await hub.request('POST', `/api/users/${bob.id}/permissions`, { token: await hub.adminToken(), body: { permission: 'users.manage' } })
  t.equal(grant.status, 201)
  const row = await hub.app.db.prisma.userPermission.findFirstOrThrow({ where: { userId: bob.id } })
  t.equal(row.grantedById, admin.body.id, 'grantedById is the admin who granted it')
  t.same((await hub.request('GET', '/api/me', { token: bob.token })).body.permissions, ['users.manage'])
  t.equal((await hub.request('POST', '/api/users', { token: bob.token, body: { username: 'eve', email: 'eve@example.test', password: 'correct-horse' } })).status, 201, 'the grant works on the existing session')

  t.equal((await hub.request('DELETE', `/api/users/${bob.id}/permissions/users.manage`, { token: await hub.adminToken() })).status, 204)
  t.equal((await hub.request('POST', '/api/users', { token: bob.token, body: { username: 'mallory', email: 'm@example.test', password: 'correct-horse' } })).status, 403, 'a revoked grant stops working at once')
  t.equal((await hub.request('DELETE', `/api/users/${bob.id}/permissions/users.manage`, { token: await hub.adminToken() })).status, 404)

  t.equal((await hub.request('POST', `/api/users/${bob.id}/permissions`, { token: await hub.adminToken(), body: { permission: 'root.everything' } })).status, 400)
  t.equal((await hub.request('POST', '/api/users/6b1e0f38-4c5e-4d7e-9f5e-1b2c3d4e5f60/permissions', { token: await hub.adminToken(), body: { permission: 'servers.view' } })).status, 404)
})

t.test('deleting users: sessions end, owners are refused with 409', async t => {
  const hub = await startTestHub(t, {}, { env: 'development' })
  const carol = await createUser(hub, 'carol')
  t.equal((await hub.request('DELETE', `/api/users/${carol.id}`, { token: await hub.adminToken() })).status, 204)
  t.equal((await hub.request('GET', '/api/me', { token: carol.token })).status, 401, 'their session is gone')
  t.equal((await hub.request('DELETE', `/api/users/${carol.id}`, { token: await hub.adminToken() })).status, 404)

  const owner = await createUser(hub, 'owner')
  const server = await hub.app.db.prisma.server.findFirstOrThrow()
  await hub.app.db.prisma.server.update({ where: { id: server.id }, data: { ownerId: owner.id } })
  const refused = await hub.request('DELETE', `/api/users/${owner.id}`, { token: await hub.adminToken() })
  t.equal(refused.status, 409)
  t.match(refused.body.error.message, /owns servers/)
  t.equal((await hub.request('DELETE', '/api/users/not-a-uuid', { token: await hub.adminToken() })).status, 400)
})
