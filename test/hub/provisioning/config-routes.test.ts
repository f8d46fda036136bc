// Server configuration over REST (PROTOCOL.md 1.1): templates through /api/alts, configuration
// fields through POST and PATCH /api/servers; every refusal of content is a 400 that names the
// field; every change bumps configRevision, a template's for every server made from it.
import t from 'tap'
import type { Test } from 'tap'
import { startTestHub } from '../../helpers/hub.ts'

const MINECRAFT = {
  name: 'minecraft-test',
  image: 'ghcr.io/pterodactyl/yolks:java_21',
  startup: 'java -Xms128M -Xmx{{SERVER_MEMORY}}M -jar {{SERVER_JARFILE}} nogui',
  stop: { type: 'command', value: 'stop', graceS: 20 },
  doneRegex: '\\)! For help, type ',
  install: '#!/bin/sh\necho installing\n',
  variables: [
    { name: 'SERVER_JARFILE', default: 'server.jar', description: 'the jar to run' },
    { name: 'EULA', description: 'must be accepted' }
  ]
}

async function setup (t: Test) {
  const hub = await startTestHub(t)
  const admin = await hub.adminToken()
  const node = (await hub.request('POST', '/api/nodes', { token: admin, body: { name: 'n1' } })).body.node
  const owner = (await hub.request('GET', '/api/me', { token: admin })).body.id as string
  const alt = await hub.request('POST', '/api/alts', { token: admin, body: MINECRAFT })
  t.equal(alt.status, 201, JSON.stringify(alt.body))
  return { hub, admin, node, owner, alt: alt.body }
}

const refused = (t: Test, res: { status: number, body: any }, field: string, message: RegExp, what: string) => {
  t.equal(res.status, 400, what)
  t.match(res.body?.error, { code: 'BAD_REQUEST', field, message }, what)
}

t.test('templates: created with defaults, listed, read; each bad field refused by name', async t => {
  const { hub, admin, alt } = await setup(t)
  t.match(alt, { id: String, ...MINECRAFT, variables: [{ name: 'SERVER_JARFILE', default: 'server.jar', required: false }, { name: 'EULA', required: true }] })
  t.same((await hub.request('GET', `/api/alts/${alt.id as string}`, { token: admin })).body, alt)
  const list = (await hub.request('GET', '/api/alts', { token: admin })).body.items
  t.same(list.map((a: { name: string }) => a.name), ['generic', 'minecraft-java', 'minecraft-test'], 'the seeded templates and the new one, by name')
  const generic = list.find((a: { name: string }) => a.name === 'generic')
  t.match(generic, { stop: { type: 'signal', value: 'SIGTERM', graceS: 30 }, doneRegex: null, install: null, variables: [] }, 'the existing template got valid defaults')

  const bad = (over: object) => ({ ...MINECRAFT, name: 'bad', ...over })
  const cases: Array<[object, string, RegExp]> = [
    [bad({ startup: 'java -jar {{JARFILE}}' }), 'startup', /unknown placeholder \{\{JARFILE\}\}/],
    [bad({ doneRegex: '([a-z' }), 'doneRegex', /does not compile/],
    [bad({ stop: { type: 'signal', value: 'SIGKILL' } }), 'stop.value', /SIGTERM/],
    [bad({ stop: { type: 'command', value: 'stop\nnow' } }), 'stop.value', /one line/],
    [bad({ variables: [{ name: 'server_jarfile' }] }), 'variables[0].name', /must match/],
    [bad({ variables: [{ name: 'SERVER_MEMORY' }] }), 'variables[0].name', /reserved/]
  ]
  for (const [body, field, message] of cases) refused(t, await hub.request('POST', '/api/alts', { token: admin, body }), field, message, JSON.stringify(body))
  t.equal((await hub.request('POST', '/api/alts', { token: admin, body: bad({ stop: { type: 'command', value: 'x', graceS: 0 } }) })).status, 400, 'graceS out of range')
  t.equal((await hub.request('POST', '/api/alts', { token: admin, body: { ...MINECRAFT } })).status, 409, 'a taken name')
  t.equal((await hub.request('PATCH', '/api/alts/00000000-0000-4000-8000-000000000000', { token: admin, body: { image: 'x' } })).status, 404)
  t.equal((await hub.request('GET', '/api/alts/00000000-0000-4000-8000-000000000000', { token: admin })).status, 404)

  await hub.request('POST', '/api/users', { token: admin, body: { username: 'eve', email: 'eve@example.test', password: 'correct-horse' } })
  const eve = await hub.login('eve', 'correct-horse')
  t.equal((await hub.request('POST', '/api/alts', { token: eve, body: bad({}) })).status, 403, 'servers.create is needed to add')
  t.equal((await hub.request('PATCH', `/api/alts/${alt.id as string}`, { token: eve, body: { image: 'x' } })).status, 403, 'and to change')
  t.equal((await hub.request('GET', '/api/alts', { token: eve })).status, 200, 'any session reads them')
})

t.test('servers: configuration on create, required variables, PATCH bumps the revision', async t => {
  const { hub, admin, node, owner, alt } = await setup(t)
  const base = { name: 'mc', nodeId: node.id, altId: alt.id, ownerId: owner, port: 25565 }
  refused(t, await hub.request('POST', '/api/servers', { token: admin, body: base }), 'environment.EULA', /required/, 'a required variable without a value')
  refused(t, await hub.request('POST', '/api/servers', { token: admin, body: { ...base, environment: { EULA: 'true', OTHER: 'x' } } }), 'environment.OTHER', /not a variable/, 'an undeclared variable')
  t.equal((await hub.request('POST', '/api/servers', { token: admin, body: { ...base, environment: { eula: 'x' } } })).status, 400, 'a bad variable name')
  t.equal((await hub.request('POST', '/api/servers', { token: admin, body: { ...base, environment: { EULA: 'x' }, memoryLimitMb: 1 } })).status, 400, 'a memory limit below 64 MiB')

  const created = await hub.request('POST', '/api/servers', { token: admin, body: { ...base, environment: { EULA: 'true' }, memoryLimitMb: 2048 } })
  t.equal(created.status, 201, JSON.stringify(created.body))
  t.match(created.body, { environment: { EULA: 'true' }, memoryLimitMb: 2048, autoRestart: { enabled: false, maxRestarts: 3, windowS: 300 }, configRevision: 1 })
  t.notOk('dockerContainerId' in created.body, 'unused by the process agent, never exposed')
  const id = created.body.id as string

  const patched = await hub.request('PATCH', `/api/servers/${id}`, { token: admin, body: { name: 'mc-renamed', environment: { EULA: 'true', SERVER_JARFILE: 'paper.jar' }, autoRestart: { enabled: true, maxRestarts: 5 } } })
  t.equal(patched.status, 200, JSON.stringify(patched.body))
  t.match(patched.body, { name: 'mc-renamed', environment: { SERVER_JARFILE: 'paper.jar' }, memoryLimitMb: 2048, autoRestart: { enabled: true, maxRestarts: 5, windowS: 300 }, configRevision: 2 })
  const cleared = await hub.request('PATCH', `/api/servers/${id}`, { token: admin, body: { memoryLimitMb: null } })
  t.match(cleared.body, { memoryLimitMb: null, configRevision: 3 })
  refused(t, await hub.request('PATCH', `/api/servers/${id}`, { token: admin, body: { environment: { EULA: '' } } }), 'environment.EULA', /empty/, 'a required variable set empty')
  t.equal((await hub.request('GET', `/api/servers/${id}`, { token: admin })).body.configRevision, 3, 'a refused change bumps nothing')
  t.equal((await hub.request('PATCH', `/api/servers/${id}`, { token: admin, body: {} })).status, 400, 'an empty change')
  t.equal((await hub.request('PATCH', `/api/servers/${id}`, { token: admin, body: { port: 1 } })).status, 400, 'the port is not changed here')
  t.equal((await hub.request('PATCH', '/api/servers/00000000-0000-4000-8000-000000000000', { token: admin, body: { name: 'x' } })).status, 404)
})

t.test('template changes: every server must still resolve, and each gets a new revision', async t => {
  const { hub, admin, node, owner, alt } = await setup(t)
  const server = (await hub.request('POST', '/api/servers', { token: admin, body: { name: 'mc', nodeId: node.id, altId: alt.id, ownerId: owner, port: 1, environment: { EULA: 'true' } } })).body
  const altId = alt.id as string

  const moreVars = [...MINECRAFT.variables, { name: 'LEVEL', description: 'world' }]
  refused(t, await hub.request('PATCH', `/api/alts/${altId}`, { token: admin, body: { variables: moreVars } }), 'variables', /LEVEL.*server mc/, 'a new required variable the server has no value for')
  refused(t, await hub.request('PATCH', `/api/alts/${altId}`, { token: admin, body: { startup: 'java -jar {{NOPE}}' } }), 'startup', /unknown placeholder/, 'an unknown placeholder')
  t.equal((await hub.request('GET', `/api/servers/${server.id as string}`, { token: admin })).body.configRevision, 1, 'refused changes bump nothing')

  const ok = await hub.request('PATCH', `/api/alts/${altId}`, { token: admin, body: { variables: [...MINECRAFT.variables, { name: 'LEVEL', default: 'world', description: 'world' }], doneRegex: null } })
  t.equal(ok.status, 200, JSON.stringify(ok.body))
  t.match(ok.body, { doneRegex: null, startup: MINECRAFT.startup, stop: MINECRAFT.stop })
  t.equal((await hub.request('GET', `/api/servers/${server.id as string}`, { token: admin })).body.configRevision, 2, 'the server has a new revision')
})
