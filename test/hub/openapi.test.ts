// GET /api/openapi.json: an OpenAPI 3 document that names every REST route the hub has, and
// nothing it does not have.
import t from 'tap'
import { startTestHub } from '../helpers/hub.ts'

t.test('the OpenAPI document matches the routes that exist', async t => {
  const hub = await startTestHub(t)
  const res = await hub.request('GET', '/api/openapi.json')
  t.equal(res.status, 200, 'served without a session')
  const doc = res.body
  t.match(doc.openapi, /^3\./)
  const documented = new Set<string>()
  for (const [path, ops] of Object.entries(doc.paths as Record<string, Record<string, unknown>>)) {
    for (const method of Object.keys(ops)) documented.add(`${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`)
  }
  const routes = hub.app.routeTable.filter(r => !r.hidden)
  t.ok(routes.length >= 20, `${routes.length} documented routes`)
  for (const r of routes) t.ok(documented.has(`${r.method} ${r.url}`), `${r.method} ${r.url} is documented`)
  for (const entry of documented) {
    const [method, url] = entry.split(' ') as [string, string]
    t.ok(hub.app.hasRoute({ method: method as 'GET', url }), `${entry} exists`)
  }
  for (const must of ['POST /api/auth/login', 'GET /api/servers', 'POST /api/servers/:id/actions', 'GET /api/users', 'GET /api/config']) {
    t.ok(documented.has(must), `${must} is documented`)
  }
  // Hidden: the sockets, the static panel and the document itself.
  for (const hidden of ['GET /agent/v1', 'GET /panel/v1', 'GET /', 'GET /api/openapi.json']) t.notOk(documented.has(hidden), `${hidden} is not`)
  const login = doc.paths['/api/auth/login'].post
  t.same(login.requestBody.content['application/json'].schema.required, ['username', 'password'], 'body schemas come from the routes')
})

t.test('GET /api/config gives the public URL and the agent URL built from it', async t => {
  const hub = await startTestHub(t, { publicUrl: 'https://panel.example.test/' })
  const res = await hub.request('GET', '/api/config')
  t.equal(res.status, 200)
  t.same(res.body, { publicUrl: 'https://panel.example.test', agentHubUrl: 'wss://panel.example.test/agent/v1' })
  const dflt = await startTestHub(t)
  t.same((await dflt.request('GET', '/api/config')).body, { publicUrl: dflt.url, agentHubUrl: dflt.url.replace('http', 'ws') + '/agent/v1' })
})
