// DELETE /api/alts/:id and the template caps (PROTOCOL.md 1.1 additions): a template servers are
// still made from is refused with 409 and their count; unused ones go; servers.create decides who
// may; a readiness regex longer than the cap (512 characters) is refused on create and change.
import t from 'tap'
import { startTestHub } from '../../helpers/hub.ts'

const TEMPLATE = { name: 'to-delete', image: 'none', startup: 'sh run.sh {{SERVER_PORT}}' }

t.test('deleting templates: refused while used, 404 when gone, servers.create required', async t => {
  const hub = await startTestHub(t)
  const admin = await hub.adminToken()
  const created = await hub.request('POST', '/api/alts', { token: admin, body: TEMPLATE })
  t.equal(created.status, 201, JSON.stringify(created.body))
  const alt = created.body.id as string
  const node = (await hub.request('POST', '/api/nodes', { token: admin, body: { name: 'n1' } })).body.node
  const owner = (await hub.request('GET', '/api/me', { token: admin })).body.id as string
  const server = await hub.request('POST', '/api/servers', { token: admin, body: { name: 's1', nodeId: node.id, altId: alt, ownerId: owner, port: 30000 } })
  t.equal(server.status, 201, JSON.stringify(server.body))

  await hub.request('POST', '/api/users', { token: admin, body: { username: 'eve', email: 'eve@example.test', password: 'correct-horse' } })
  const eve = await hub.login('eve', 'correct-horse')
  t.equal((await hub.request('DELETE', `/api/alts/${alt}`, { token: eve })).status, 403, 'servers.create is needed to delete')

  const used = await hub.request('DELETE', `/api/alts/${alt}`, { token: admin })
  t.equal(used.status, 409, 'refused while a server is made from it')
  t.match(used.body.error, { code: 'CONFLICT', servers: 1, message: /1 server is still made from this template/ })
  t.equal((await hub.request('GET', `/api/alts/${alt}`, { token: admin })).status, 200, 'still there')

  t.equal((await hub.request('DELETE', `/api/servers/${server.body.id as string}`, { token: admin })).status, 204)
  t.equal((await hub.request('DELETE', `/api/alts/${alt}`, { token: admin })).status, 204, 'unused: deleted')
  t.equal((await hub.request('GET', `/api/alts/${alt}`, { token: admin })).status, 404)
  t.equal((await hub.request('DELETE', `/api/alts/${alt}`, { token: admin })).status, 404, 'gone')
  t.equal((await hub.request('DELETE', '/api/alts/not-a-uuid', { token: admin })).status, 400)
})

t.test('a readiness regex longer than 512 characters is refused; 512 is accepted', async t => {
  const hub = await startTestHub(t)
  const admin = await hub.adminToken()
  const long = await hub.request('POST', '/api/alts', { token: admin, body: { ...TEMPLATE, doneRegex: 'a'.repeat(513) } })
  t.equal(long.status, 400, 'create with 513 characters')
  t.match(long.body.error.message, /doneRegex/)
  const ok = await hub.request('POST', '/api/alts', { token: admin, body: { ...TEMPLATE, doneRegex: 'a'.repeat(512) } })
  t.equal(ok.status, 201, 'create with 512 characters')
  const patched = await hub.request('PATCH', `/api/alts/${ok.body.id as string}`, { token: admin, body: { doneRegex: 'b'.repeat(513) } })
  t.equal(patched.status, 400, 'change to 513 characters')
})

t.test('server limits: memory and auto-restart bounds refused on create and change', async t => {
  const hub = await startTestHub(t)
  const admin = await hub.adminToken()
  const alt = (await hub.request('POST', '/api/alts', { token: admin, body: TEMPLATE })).body.id as string
  const node = (await hub.request('POST', '/api/nodes', { token: admin, body: { name: 'n1' } })).body.node
  const owner = (await hub.request('GET', '/api/me', { token: admin })).body.id as string
  const base = { name: 's1', nodeId: node.id, altId: alt, ownerId: owner, port: 30000 }
  const bad: Array<[string, object]> = [
    ['memory above 1 TiB', { memoryLimitMb: 1_048_577 }],
    ['memory not whole', { memoryLimitMb: 100.5 }],
    ['no restarts', { autoRestart: { enabled: true, maxRestarts: 0 } }],
    ['too many restarts', { autoRestart: { enabled: true, maxRestarts: 101 } }],
    ['a window below 10 s', { autoRestart: { enabled: true, windowS: 5 } }],
    ['a window above a day', { autoRestart: { enabled: true, windowS: 86_401 } }],
    ['auto-restart without enabled', { autoRestart: { maxRestarts: 3 } }]
  ]
  for (const [what, over] of bad) t.equal((await hub.request('POST', '/api/servers', { token: admin, body: { ...base, ...over } })).status, 400, `create: ${what}`)
  const created = await hub.request('POST', '/api/servers', { token: admin, body: { ...base, memoryLimitMb: 64, autoRestart: { enabled: true, maxRestarts: 100, windowS: 86_400 } } })
  t.equal(created.status, 201, 'the bounds themselves are accepted')
  for (const [what, over] of bad) t.equal((await hub.request('PATCH', `/api/servers/${created.body.id as string}`, { token: admin, body: over })).status, 400, `change: ${what}`)
  t.equal((await hub.request('GET', `/api/servers/${created.body.id as string}`, { token: admin })).body.configRevision, 1, 'nothing refused was written')
})
