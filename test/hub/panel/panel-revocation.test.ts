// Revocation at once: permission revoked (subscriptions end with FORBIDDEN and the list),
// permission granted, user deleted, session expired, server deleted or given away.
import t from 'tap'
import { notifyAuthChange } from '../../../src/db/sql/auth-notify.ts'
import { startTestHub } from '../../helpers/hub.ts'
import { addNode, addUser, appendMany, panel, secondHub } from './fixtures.ts'

t.test('revoking servers.view ends the subscriptions it allowed, on every hub', async t => {
  const hub = await startTestHub(t)
  const admin = await hub.adminToken()
  const owner = await addUser(hub, 'owner')
  const viewer = await addUser(hub, 'viewer', ['servers.view'])
  const node = await addNode(hub, 'n1', [owner.id, viewer.id])
  const [foreign, own] = node.servers as [string, string]
  const b = await secondHub(t, hub.databaseUrl)
  const p = panel(b, viewer.token)
  await p.connect()
  t.equal((await p.subscribe({ servers: [foreign, own] })).type, 'subscribed')
  t.equal((await p.subscribe({ nodes: [node.nodeId] })).type, 'subscribed')

  t.equal((await hub.request('DELETE', `/api/users/${viewer.id}/permissions/servers.view`, { token: admin })).status, 204)
  const err = await p.next('error')
  t.match(err, { code: 'FORBIDDEN' })
  t.same(err.data, { servers: [foreign], nodes: [node.nodeId] }, 'the foreign server and the node subscription end; the own server stays')
  await appendMany(hub.app, [foreign, own], node.nodeId, 4)
  await p.next(f => f.type === 'event' && f.data.n === 3)
  await p.ping()
  t.notOk(p.drain().some(f => f.type === 'event' && f.data.serverId === foreign), 'no event of the foreign server after the revocation')

  // A grant takes effect for the next subscribe.
  t.match(await p.subscribe({ servers: [foreign] }), { code: 'FORBIDDEN' })
  await hub.request('POST', `/api/users/${viewer.id}/permissions`, { token: admin, body: { permission: 'servers.view' } })
  const deadline = Date.now() + 5_000
  let answer
  do answer = await p.subscribe({ servers: [foreign] }); while (answer.type === 'error' && Date.now() < deadline)
  t.equal(answer.type, 'subscribed', 'granted again: subscribing works')
})

t.test('deleting the user, or the session ending, closes with 4401', async t => {
  const hub = await startTestHub(t)
  const admin = await hub.adminToken()
  const gone = await addUser(hub, 'gone')
  const p = panel(hub, gone.token)
  await p.connect()
  t.equal((await hub.request('DELETE', `/api/users/${gone.id}`, { token: admin })).status, 204)
  t.same(await p.closed(), { code: 4401, reason: 'user deleted' })

  const brief = await addUser(hub, 'brief')
  await hub.app.db.pool.query("UPDATE sessions SET expires_at = now() + interval '400 milliseconds' WHERE user_id = $1", [brief.id])
  const q = panel(hub, brief.token)
  await q.connect()
  t.same(await q.closed(3_000), { code: 4401, reason: 'session expired' }, 'closed when the session expires, without any request')

  const two = await addUser(hub, 'two')
  const r = panel(hub, two.token)
  await r.connect()
  const other = panel(hub, await hub.login('two', 'password-1234'))
  await other.connect()
  await hub.request('POST', '/api/auth/logout', { token: two.token })
  t.same(await r.closed(), { code: 4401, reason: 'session revoked' })
  t.same(await other.ping(), { type: 'pong', id: 1 }, "the user's other session stays")
  other.close()
})

t.test('a server deleted or given away leaves the subscriptions', async t => {
  const hub = await startTestHub(t)
  const alice = await addUser(hub, 'alice')
  const bob = await addUser(hub, 'bob')
  const node = await addNode(hub, 'n1', [alice.id, alice.id])
  const [s1, s2] = node.servers as [string, string]
  const p = panel(hub, alice.token)
  await p.connect()
  await p.subscribe({ servers: [s1, s2] })
  const prisma = hub.app.db.prisma
  await prisma.$transaction(async tx => {
    await tx.server.delete({ where: { id: s1 } })
    await notifyAuthChange(tx, { serverId: s1 })
  })
  t.match(await p.next('error'), { code: 'NOT_FOUND', data: { servers: [s1] } })
  await prisma.$transaction(async tx => {
    await tx.server.update({ where: { id: s2 }, data: { ownerId: bob.id } })
    await notifyAuthChange(tx, { serverId: s2 })
  })
  t.match(await p.next('error'), { code: 'FORBIDDEN', data: { servers: [s2] } })
})

t.test('DELETE /api/servers/:id ends the subscriptions to the server on every hub', async t => {
  const hub = await startTestHub(t)
  const admin = await hub.adminToken()
  const alice = await addUser(hub, 'alice')
  const node = await addNode(hub, 'n1', [alice.id, alice.id])
  const [s1, s2] = node.servers as [string, string]
  const b = await secondHub(t, hub.databaseUrl)
  const onA = panel(hub, alice.token)
  const onB = panel(b, admin)
  await onA.connect()
  await onB.connect()
  t.equal((await onA.subscribe({ servers: [s1, s2] })).type, 'subscribed')
  t.equal((await onB.subscribe({ servers: [s1] })).type, 'subscribed')

  t.equal((await hub.request('DELETE', `/api/servers/${s1}`, { token: admin })).status, 204)
  t.match(await onA.next('error'), { code: 'NOT_FOUND', data: { servers: [s1] } }, 'the hub that served the delete')
  t.match(await onB.next('error'), { code: 'NOT_FOUND', data: { servers: [s1] } }, 'another hub on the same database')
  await appendMany(hub.app, [s1, s2], node.nodeId, 4)
  await onA.next(f => f.type === 'event' && f.data.n === 3)
  t.notOk(onA.drain().some(f => f.type === 'event' && f.data.serverId === s1), 'no event of the deleted server after the delete')
  t.equal((await hub.request('DELETE', `/api/servers/${s1}`, { token: admin })).status, 404, 'a second delete is a 404 and notifies nothing')
  await onA.ping()
  t.notOk(onA.drain().some(f => f.type === 'error'), 'no second error')
  onA.close()
  onB.close()
})

t.test('a revocation made while the auth feed was cut off takes effect after it redials', async t => {
  const hub = await startTestHub(t)
  const admin = await hub.adminToken()
  const owner = await addUser(hub, 'owner')
  const viewer = await addUser(hub, 'viewer', ['servers.view'])
  const node = await addNode(hub, 'n1', [owner.id])
  const p = panel(hub, viewer.token)
  await p.connect()
  t.equal((await p.subscribe({ servers: node.servers })).type, 'subscribed')
  // Cut the LISTEN connection, and revoke before it is back: that NOTIFY reaches nobody.
  const { rows } = await hub.app.db.pool.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'hub-auth' AND datname = current_database()")
  t.equal(rows.length, 1, 'the auth feed connection was cut')
  t.equal((await hub.request('DELETE', `/api/users/${viewer.id}/permissions/servers.view`, { token: admin })).status, 204)
  // The redial re-checks every socket against the database.
  t.match(await p.next('error', 10_000), { code: 'FORBIDDEN', data: { servers: node.servers } })
})
