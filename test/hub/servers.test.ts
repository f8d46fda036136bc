// Servers, alts and status history over real HTTP: permissions, visibility (owner, servers.view,
// admin), 404 rather than 403 for servers one may not view, conflicts, pagination.
import t from 'tap'
import { startTestHub, type TestHub } from '../helpers/hub.ts'

async function createUser (hub: TestHub, username: string, permissions: string[] = []) {
  const admin = await hub.adminToken()
  const res = await hub.request('POST', '/api/users', { token: admin, body: { username, email: `${username}@example.test`, password: 'correct-horse' } })
  for (const permission of permissions) await hub.request('POST', `/api/users/${res.body.id}/permissions`, { token: admin, body: { permission } })
  return { id: res.body.id as string, token: await hub.login(username, 'correct-horse') }
}

async function setup (t: Tap) {
  const hub = await startTestHub(t)
  const admin = await hub.adminToken()
  const node = (await hub.request('POST', '/api/nodes', { token: admin, body: { name: 'n1' } })).body.node
  const alt = (await hub.request('GET', '/api/alts', { token: admin })).body.items[0]
  const create = async (name: string, ownerId: string, port: number) =>
    await hub.request('POST', '/api/servers', { token: admin, body: { name, nodeId: node.id, altId: alt.id, ownerId, port } })
  return { hub, admin, node, alt, create }
}

interface Tap { teardown (fn: () => unknown): void }

t.test('creating servers: servers.create, STOPPED at first, 409 on a taken port, 400 on bad references', async t => {
  const { hub, admin, node, alt, create } = await setup(t)
  const alice = await createUser(hub, 'alice')
  const created = await create('mc-1', alice.id, 25565)
  t.equal(created.status, 201)
  t.match(created.body, { id: String, name: 'mc-1', status: 'STOPPED', port: 25565, nodeId: node.id, altId: alt.id, ownerId: alice.id })
  t.notOk('seq' in created.body, 'the agent seq stays internal')
  t.match(created.body, { nodeName: 'n1', ownerUsername: 'alice' }, 'PROTOCOL.md 1.1: the names next to the ids')
  t.match((await hub.request('GET', `/api/servers/${created.body.id as string}`, { token: admin })).body, { nodeName: 'n1', ownerUsername: 'alice' })
  t.match((await hub.request('GET', '/api/servers', { token: admin })).body.items.find((s: { id: string }) => s.id === created.body.id), { nodeName: 'n1', ownerUsername: 'alice' })

  const taken = await create('mc-2', alice.id, 25565)
  t.equal(taken.status, 409)
  t.equal(taken.body.error.code, 'CONFLICT')
  const unknownOwner = await create('mc-3', '00000000-0000-4000-8000-000000000000', 25566)
  t.equal(unknownOwner.status, 400, 'an unknown owner')
  for (const body of [{}, { name: 'x', nodeId: node.id, altId: alt.id, ownerId: alice.id, port: 0 }, { name: 'x', nodeId: 'nope', altId: alt.id, ownerId: alice.id, port: 1 }, { name: 'x', nodeId: node.id, altId: alt.id, ownerId: alice.id, port: 1, extra: true }]) {
    t.equal((await hub.request('POST', '/api/servers', { token: admin, body })).status, 400, JSON.stringify(body))
  }
  const denied = await hub.request('POST', '/api/servers', { token: alice.token, body: { name: 'mine', nodeId: node.id, altId: alt.id, ownerId: alice.id, port: 1 } })
  t.equal(denied.status, 403, 'without servers.create')
  t.equal((await hub.request('GET', '/api/servers')).status, 401, 'no session')
})

t.test('visibility: owners see theirs, servers.view and admins see all, others get 404', async t => {
  const { hub, admin, create } = await setup(t)
  const alice = await createUser(hub, 'alice')
  const bob = await createUser(hub, 'bob')
  const viewer = await createUser(hub, 'viewer', ['servers.view'])
  const a = (await create('a', alice.id, 1)).body
  const b = (await create('b', bob.id, 2)).body

  const names = async (token: string) => (await hub.request('GET', '/api/servers', { token })).body.items.map((s: { name: string }) => s.name).sort()
  t.same(await names(alice.token), ['a'])
  t.same(await names(bob.token), ['b'])
  t.same(await names(viewer.token), ['a', 'b'])
  t.same(await names(admin), ['a', 'b'])

  t.equal((await hub.request('GET', `/api/servers/${a.id}`, { token: alice.token })).body.name, 'a')
  const foreign = await hub.request('GET', `/api/servers/${b.id}`, { token: alice.token })
  t.equal(foreign.status, 404, "another user's server looks like an unknown one")
  t.equal((await hub.request('GET', '/api/servers/00000000-0000-4000-8000-000000000000', { token: alice.token })).status, 404)
  t.equal((await hub.request('GET', `/api/servers/${b.id}/transitions`, { token: alice.token })).status, 404, 'nor its history')
  t.equal((await hub.request('GET', `/api/servers/${b.id}`, { token: viewer.token })).status, 200)
})

t.test('listing pages through every server once', async t => {
  const { hub, admin, create } = await setup(t)
  const me = (await hub.request('GET', '/api/me', { token: admin })).body
  for (let i = 0; i < 7; i++) await create(`s${i}`, me.id, 100 + i)
  const seen: string[] = []
  let after: string | null = null
  let pages = 0
  do {
    const res: { body: { items: Array<{ name: string }>, next: string | null } } = await hub.request('GET', `/api/servers?limit=3${after === null ? '' : `&after=${after}`}`, { token: admin })
    seen.push(...res.body.items.map(s => s.name))
    after = res.body.next
    pages++
  } while (after !== null && pages < 10)
  t.equal(pages, 3)
  t.same(seen.sort(), ['s0', 's1', 's2', 's3', 's4', 's5', 's6'])
  t.equal((await hub.request('GET', '/api/servers?limit=0', { token: admin })).status, 400)
})

t.test('status history: newest first, paged with before', async t => {
  const { hub, admin, create } = await setup(t)
  const me = (await hub.request('GET', '/api/me', { token: admin })).body
  const server = (await create('s', me.id, 1)).body
  const other = (await create('o', me.id, 2)).body
  const steps = ['STARTING', 'RUNNING', 'STOPPING', 'STOPPED', 'STARTING']
  const base = Date.parse('2026-11-27T10:00:00.000Z')
  let from = 'STOPPED'
  for (const [i, to] of steps.entries()) {
    await hub.app.db.prisma.serverStatusTransition.create({ data: { serverId: server.id, from: from as 'STOPPED', to: to as 'STOPPED', seq: i + 1, at: new Date(base + i * 1_000) } })
    from = to
  }
  const first = await hub.request('GET', `/api/servers/${server.id}/transitions?limit=2`, { token: admin })
  t.equal(first.status, 200)
  t.same(first.body.items.map((r: { seq: number }) => r.seq), [5, 4])
  t.match(first.body.items[0], { id: String, serverId: server.id, from: 'STOPPED', to: 'STARTING', seq: 5, reason: null, at: '2026-11-27T10:00:04.000Z' })
  const second = await hub.request('GET', `/api/servers/${server.id}/transitions?limit=2&before=${first.body.next}`, { token: admin })
  t.same(second.body.items.map((r: { seq: number }) => r.seq), [3, 2])
  const last = await hub.request('GET', `/api/servers/${server.id}/transitions?limit=2&before=${second.body.next}`, { token: admin })
  t.same(last.body.items.map((r: { seq: number }) => r.seq), [1])
  t.equal(last.body.next, null)
  const wrong = await hub.request('GET', `/api/servers/${other.id}/transitions?before=${first.body.next}`, { token: admin })
  t.equal(wrong.status, 400, 'before must belong to the same server')
})

t.test('deleting servers needs servers.delete and takes the history along', async t => {
  const { hub, admin, create } = await setup(t)
  const alice = await createUser(hub, 'alice')
  const server = (await create('s', alice.id, 1)).body
  await hub.app.db.prisma.serverStatusTransition.create({ data: { serverId: server.id, from: 'STOPPED', to: 'STARTING', seq: 1 } })
  t.equal((await hub.request('DELETE', `/api/servers/${server.id}`, { token: alice.token })).status, 403, 'owning is not enough')
  t.equal((await hub.request('DELETE', `/api/servers/${server.id}`, { token: admin })).status, 204)
  t.equal((await hub.request('DELETE', `/api/servers/${server.id}`, { token: admin })).status, 404)
  t.equal(await hub.app.db.prisma.serverStatusTransition.count({ where: { serverId: server.id } }), 0)
})

t.test('alts: any session lists them, servers.create adds them', async t => {
  const { hub, admin } = await setup(t)
  const alice = await createUser(hub, 'alice')
  const list = await hub.request('GET', '/api/alts', { token: alice.token })
  t.equal(list.status, 200)
  t.ok(list.body.items.some((a: { name: string }) => a.name === 'generic'), 'the seeded template')
  const body = { name: 'paper', image: 'ghcr.io/example/paper:1', startup: 'java -jar paper.jar' }
  t.equal((await hub.request('POST', '/api/alts', { token: alice.token, body })).status, 403)
  const created = await hub.request('POST', '/api/alts', { token: admin, body })
  t.equal(created.status, 201)
  t.match(created.body, { id: String, ...body })
  t.equal((await hub.request('POST', '/api/alts', { token: admin, body })).status, 409)
  t.equal((await hub.request('POST', '/api/alts', { token: admin, body: { name: 'bad name' } })).status, 400)
})

t.test('text PostgreSQL cannot store is refused with 400, not a 500', async t => {
  const { hub, admin, node, alt } = await setup(t)
  const me = (await hub.request('GET', '/api/me', { token: admin })).body
  for (const name of ['a\u0000b', 'a\ud800b']) {
    const res = await hub.request('POST', '/api/servers', { token: admin, body: { name, nodeId: node.id, altId: alt.id, ownerId: me.id, port: 1 } })
    t.equal(res.status, 400, JSON.stringify(name))
  }
  t.equal((await hub.request('POST', '/api/auth/login', { body: { username: 'ad\u0000min', password: 'x' } })).status, 400)
})
