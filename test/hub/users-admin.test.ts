// PROTOCOL.md 1.1 user administration: GET /api/users[/:id], PATCH /api/users/:id {role}, and
// issue 10 item 11: users.manage is not ADMIN in disguise, the last ADMIN stays.
import t from 'tap'
import { startTestHub, type TestHub } from '../helpers/hub.ts'

async function createUser (hub: TestHub, username: string, options: { role?: 'ADMIN' | 'USER', permissions?: string[] } = {}) {
  const admin = await hub.adminToken()
  const res = await hub.request('POST', '/api/users', { token: admin, body: { username, email: `${username}@example.test`, password: 'correct-horse', ...(options.role === undefined ? {} : { role: options.role }) } })
  if (res.status !== 201) throw new Error(JSON.stringify(res.body))
  for (const permission of options.permissions ?? []) {
    const grant = await hub.request('POST', `/api/users/${res.body.id}/permissions`, { token: admin, body: { permission } })
    if (grant.status !== 201) throw new Error(JSON.stringify(grant.body))
  }
  return { id: res.body.id as string, token: await hub.login(username, 'correct-horse') }
}

const adminId = async (hub: TestHub) => (await hub.request('GET', '/api/me', { token: await hub.adminToken() })).body.id as string

t.test('GET /api/users lists users with role and grants, paged; GET /api/users/:id shows one', async t => {
  const hub = await startTestHub(t)
  const admin = await hub.adminToken()
  const bob = await createUser(hub, 'bob', { permissions: ['servers.view', 'nodes.manage'] })
  await createUser(hub, 'carol')
  const all = await hub.request('GET', '/api/users', { token: admin })
  t.equal(all.status, 200)
  t.equal(all.body.next, null)
  t.same(all.body.items.map((u: { username: string }) => u.username).sort(), ['admin', 'bob', 'carol'])
  for (const u of all.body.items) {
    t.notOk('passwordHash' in u, 'never the hash')
    t.match(u, { id: String, username: String, email: String, role: /^(ADMIN|USER)$/, permissions: Array })
  }
  t.same(all.body.items.find((u: { id: string }) => u.id === bob.id).permissions, ['nodes.manage', 'servers.view'])

  const first = await hub.request('GET', '/api/users?limit=2', { token: admin })
  t.equal(first.body.items.length, 2)
  t.equal(first.body.next, first.body.items[1].id)
  const second = await hub.request('GET', `/api/users?limit=2&after=${first.body.next as string}`, { token: admin })
  t.equal(second.body.items.length, 1)
  t.equal(second.body.next, null)

  const one = await hub.request('GET', `/api/users/${bob.id}`, { token: admin })
  t.equal(one.status, 200)
  t.match(one.body, { id: bob.id, username: 'bob', role: 'USER', permissions: ['nodes.manage', 'servers.view'] })
  t.equal((await hub.request('GET', '/api/users/6b1e0f38-4c5e-4d7e-9f5e-1b2c3d4e5f60', { token: admin })).status, 404)
  t.equal((await hub.request('GET', '/api/users', { token: bob.token })).status, 403, 'users.manage is required')
  t.equal((await hub.request('GET', '/api/users')).status, 401)
})

t.test('PATCH /api/users/:id {role}: ADMIN only, takes effect at once, never demotes the last ADMIN', async t => {
  const hub = await startTestHub(t)
  const admin = await hub.adminToken()
  const manager = await createUser(hub, 'manager', { permissions: ['users.manage'] })
  const dave = await createUser(hub, 'dave')

  const byManager = await hub.request('PATCH', `/api/users/${dave.id}`, { token: manager.token, body: { role: 'ADMIN' } })
  t.equal(byManager.status, 403, 'users.manage cannot change roles')
  t.equal(byManager.body.error.code, 'FORBIDDEN')

  const lastDemoted = await hub.request('PATCH', `/api/users/${await adminId(hub)}`, { token: admin, body: { role: 'USER' } })
  t.equal(lastDemoted.status, 409, 'the last ADMIN cannot be demoted')
  t.match(lastDemoted.body.error, { code: 'CONFLICT', message: /last ADMIN/ })

  const promoted = await hub.request('PATCH', `/api/users/${dave.id}`, { token: admin, body: { role: 'ADMIN' } })
  t.equal(promoted.status, 200)
  t.match(promoted.body, { id: dave.id, role: 'ADMIN' })
  t.equal((await hub.request('GET', '/api/me', { token: dave.token })).body.role, 'ADMIN', 'the existing session sees the new role')

  // Two ADMINs: demoting either is allowed, but not both at once (the rows are locked).
  const both = await Promise.all([
    hub.request('PATCH', `/api/users/${dave.id}`, { token: admin, body: { role: 'USER' } }),
    hub.request('PATCH', `/api/users/${await adminId(hub)}`, { token: dave.token, body: { role: 'USER' } })
  ])
  t.same(both.map(r => r.status).sort(), [200, 409], 'one demotion wins, the other finds the last ADMIN')
  const admins = await hub.app.db.prisma.user.count({ where: { role: 'ADMIN' } })
  t.equal(admins, 1)

  t.equal((await hub.request('PATCH', '/api/users/6b1e0f38-4c5e-4d7e-9f5e-1b2c3d4e5f60', { token: admin, body: { role: 'USER' } })).status, 404)
  t.equal((await hub.request('PATCH', `/api/users/${dave.id}`, { token: admin, body: { role: 'ROOT' } })).status, 400)
  t.equal((await hub.request('PATCH', `/api/users/${dave.id}`, { token: admin, body: { role: 'USER', username: 'x' } })).status, 400)
})

t.test('users.manage is not ADMIN in disguise (403), the last ADMIN cannot be deleted (409)', async t => {
  const hub = await startTestHub(t)
  const manager = await createUser(hub, 'manager', { permissions: ['users.manage', 'servers.view'] })

  const makeAdmin = await hub.request('POST', '/api/users', { token: manager.token, body: { username: 'root2', email: 'r@example.test', password: 'correct-horse', role: 'ADMIN' } })
  t.equal(makeAdmin.status, 403, 'only an ADMIN creates ADMINs')
  t.equal(await hub.app.db.prisma.user.count({ where: { username: 'root2' } }), 0)
  t.equal((await hub.request('POST', '/api/users', { token: manager.token, body: { username: 'plain', email: 'p@example.test', password: 'correct-horse' } })).status, 201, 'USERs it may create')

  const self = await hub.request('POST', `/api/users/${manager.id}/permissions`, { token: manager.token, body: { permission: 'nodes.manage' } })
  t.equal(self.status, 403, 'it cannot grant itself what it lacks')
  t.equal(self.body.error.code, 'FORBIDDEN')
  const other = await createUser(hub, 'erin')
  t.equal((await hub.request('POST', `/api/users/${other.id}/permissions`, { token: manager.token, body: { permission: 'servers.delete' } })).status, 403, 'nor grant others what it lacks')
  t.equal((await hub.request('POST', `/api/users/${other.id}/permissions`, { token: manager.token, body: { permission: 'servers.view' } })).status, 201, 'what it holds it may grant')
  t.same((await hub.request('GET', '/api/me', { token: manager.token })).body.permissions, ['servers.view', 'users.manage'])

  const lastAdmin = await hub.request('DELETE', `/api/users/${await adminId(hub)}`, { token: manager.token })
  t.equal(lastAdmin.status, 409, 'the last ADMIN cannot be deleted')
  t.match(lastAdmin.body.error, { code: 'CONFLICT', message: /last ADMIN/ })
  t.equal(await hub.app.db.prisma.user.count({ where: { role: 'ADMIN' } }), 1)

  // With a second ADMIN, deleting one is still an ADMIN's call.
  const second = await createUser(hub, 'second', { role: 'ADMIN' })
  t.equal((await hub.request('DELETE', `/api/users/${second.id}`, { token: manager.token })).status, 403, 'users.manage cannot delete an ADMIN')
  t.equal((await hub.request('DELETE', `/api/users/${second.id}`, { token: await hub.adminToken() })).status, 204, 'an ADMIN can, while another ADMIN remains')
})
