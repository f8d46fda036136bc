// Issue 10 items 1a and 10: ids are canonical lower-case UUIDs at every edge. An upper-case id
// used to pass validation and match in PostgreSQL while missing the in-memory maps: GET answered
// 200, deleting a user or revoking a permission left their sockets open, and "you cannot delete
// yourself" was bypassed. Now any other spelling is refused (400 / BAD_FRAME) and never matched.
import t from 'tap'
import { startTestHub } from '../helpers/hub.ts'
import { addNode, addUser, panel } from './panel/fixtures.ts'

t.test('REST: upper-case ids in paths, queries and bodies are 400', async t => {
  const hub = await startTestHub(t)
  const admin = await hub.adminToken()
  const me = await hub.request('GET', '/api/me', { token: admin })
  const node = await addNode(hub, 'n1', [me.body.id])
  const [server] = node.servers as [string]
  const UP = server.toUpperCase()

  t.equal((await hub.request('GET', `/api/servers/${server}`, { token: admin })).status, 200, 'the canonical id works')
  const bad = async (method: string, path: string, body?: unknown) => {
    const res = await hub.request(method, path, { token: admin, ...(body === undefined ? {} : { body }) })
    t.equal(res.status, 400, `${method} ${path}`)
    t.equal(res.body?.error?.code, 'BAD_REQUEST', `${method} ${path}: a validation error`)
  }
  await bad('GET', `/api/servers/${UP}`)
  await bad('GET', `/api/servers/${UP}/transitions`)
  await bad('GET', `/api/servers/${UP}/actions`)
  await bad('POST', `/api/servers/${UP}/actions`, { action: 'START' })
  await bad('GET', `/api/servers?nodeId=${node.nodeId.toUpperCase()}`)
  await bad('DELETE', `/api/servers/${UP}`)
  await bad('POST', `/api/nodes/${node.nodeId.toUpperCase()}/token`)
  await bad('DELETE', `/api/nodes/${node.nodeId.toUpperCase()}`)
  const alt = await hub.app.db.prisma.alt.findFirstOrThrow()
  await bad('POST', '/api/servers', { name: 'x', nodeId: node.nodeId.toUpperCase(), altId: alt.id, ownerId: me.body.id, port: 28000 })
  t.equal(await hub.app.db.prisma.server.count(), 1, 'nothing created or deleted')
})

t.test('users: deleting or revoking by an upper-case id is 400 and leaves nothing half-done', async t => {
  const hub = await startTestHub(t)
  const admin = await hub.adminToken()
  const me = await hub.request('GET', '/api/me', { token: admin })

  const viewer = await addUser(hub, 'viewer', ['servers.view'])
  const p = panel(hub, viewer.token)
  await p.connect()
  const UP = viewer.id.toUpperCase()
  const revoke = await hub.request('DELETE', `/api/users/${UP}/permissions/servers.view`, { token: admin })
  t.equal(revoke.status, 400, 'revoking a permission by an upper-case id')
  t.ok(await hub.app.db.prisma.userPermission.count({ where: { userId: viewer.id } }) > 0, 'the permission stays')
  t.equal((await hub.request('POST', `/api/users/${UP}/permissions`, { token: admin, body: { permission: 'servers.control' } })).status, 400, 'granting by an upper-case id')
  const del = await hub.request('DELETE', `/api/users/${UP}`, { token: admin })
  t.equal(del.status, 400, 'deleting a user by an upper-case id')
  t.ok(await hub.app.db.prisma.user.findUnique({ where: { id: viewer.id } }), 'the user stays')
  t.same(await p.ping(), { type: 'pong', id: 1 }, 'and so does their socket, consistently with the database')

  // The canonical id does both, and the socket closes with the user.
  t.equal((await hub.request('DELETE', `/api/users/${viewer.id}`, { token: admin })).status, 204)
  t.same(await p.closed(), { code: 4401, reason: 'user deleted' })

  // "You cannot delete yourself" can no longer be bypassed by spelling.
  const self = await hub.request('DELETE', `/api/users/${(me.body.id as string).toUpperCase()}`, { token: admin })
  t.equal(self.status, 400, 'deleting yourself by an upper-case id')
  t.ok(await hub.app.db.prisma.user.findUnique({ where: { id: me.body.id } }), 'the admin still exists')
  t.equal((await hub.request('GET', '/api/me', { token: admin })).status, 200, 'and is still logged in')
})

t.test('panel frames: an upper-case id is BAD_FRAME', async t => {
  const hub = await startTestHub(t)
  const admin = await hub.adminToken()
  const me = await hub.request('GET', '/api/me', { token: admin })
  const node = await addNode(hub, 'n1', [me.body.id])
  const [server] = node.servers as [string]
  const p = panel(hub, admin)
  await p.connect()
  p.sendRaw(JSON.stringify({ type: 'subscribe', id: 'a', servers: [server.toUpperCase()] }))
  t.match(await p.next('error'), { type: 'error', code: 'BAD_FRAME', message: '/servers/0: must be a lower-case UUID' })
  p.sendRaw(JSON.stringify({ type: 'subscribe', id: 'b', nodes: [node.nodeId.toUpperCase()] }))
  t.match(await p.next('error'), { type: 'error', code: 'BAD_FRAME', message: '/nodes/0: must be a lower-case UUID' })
  t.equal((await p.subscribe({ servers: [server] })).type, 'subscribed', 'the canonical id subscribes')
  p.close()
})
