import t from 'tap'
import { createDatabase, type Database } from '../../src/db/database.ts'
import { verifyPassword } from '../../src/db/passwords.ts'
import { DEMO_NODE, MINECRAFT_ALT, seed } from '../../src/db/seed.ts'
import { createTestDatabase } from '../helpers/database.ts'

const silent = { warn () {} }

async function open (t: { teardown (fn: () => unknown): void }): Promise<Database> {
  const { url } = await createTestDatabase(t)
  const db = createDatabase({ url, poolMax: 2, connectTimeoutMs: 5_000, idleTimeoutMs: 1_000, statementTimeoutMs: 10_000, log: silent })
  t.teardown(() => db.close())
  return db
}

async function counts (db: Database) {
  const p = db.prisma
  return {
    permissions: await p.permission.count(),
    users: await p.user.count(),
    alts: await p.alt.count(),
    nodes: await p.node.count(),
    servers: await p.server.count()
  }
}

t.test('development: twice gives identical rows and keeps a changed password', async t => {
  const db = await open(t)
  const first = await seed(db.prisma, { env: 'development' })
  t.type(first.generatedAdminPassword, 'string', 'a password is generated when none is given')
  const admin = await db.prisma.user.findUniqueOrThrow({ where: { username: 'admin' } })
  t.equal(admin.role, 'ADMIN')
  t.ok(await verifyPassword(first.generatedAdminPassword as string, admin.passwordHash))
  t.same(await counts(db), { permissions: 7, users: 1, alts: 2, nodes: 1, servers: 3 })
  t.ok(await db.prisma.node.findUnique({ where: { name: DEMO_NODE } }))

  await db.prisma.user.update({ where: { id: admin.id }, data: { passwordHash: 'changed-by-operator' } })
  const snapshot = JSON.stringify(await db.prisma.server.findMany({ orderBy: { port: 'asc' } }), (_, v) => typeof v === 'bigint' ? v.toString() : v)
  const second = await seed(db.prisma, { env: 'development', adminPassword: 'another-password' })
  t.same(second, {}, 'no password is generated or printed again')
  t.same(await counts(db), { permissions: 7, users: 1, alts: 2, nodes: 1, servers: 3 })
  t.equal((await db.prisma.user.findUniqueOrThrow({ where: { id: admin.id } })).passwordHash, 'changed-by-operator', 'an existing password is never overwritten')
  t.equal(JSON.stringify(await db.prisma.server.findMany({ orderBy: { port: 'asc' } }), (_, v) => typeof v === 'bigint' ? v.toString() : v), snapshot, 'existing rows untouched')
})

t.test('production: no demo data, and the admin password is required', async t => {
  const db = await open(t)
  await t.rejects(seed(db.prisma, { env: 'production' }), /HUB_ADMIN_PASSWORD is required/)
  t.same(await counts(db), { permissions: 0, users: 0, alts: 0, nodes: 0, servers: 0 }, 'nothing was written')
  t.same(await seed(db.prisma, { env: 'production', adminPassword: 'given-password' }), {})
  t.same(await counts(db), { permissions: 7, users: 1, alts: 2, nodes: 0, servers: 0 })
  const admin = await db.prisma.user.findUniqueOrThrow({ where: { username: 'admin' } })
  t.ok(await verifyPassword('given-password', admin.passwordHash))
})

t.test('two seeds at once do not trip over each other', async t => {
  const db = await open(t)
  await Promise.all([seed(db.prisma, { env: 'development', adminPassword: 'pw-one-long' }), seed(db.prisma, { env: 'development', adminPassword: 'pw-two-long' })])
  t.same(await counts(db), { permissions: 7, users: 1, alts: 2, nodes: 1, servers: 3 })
})

t.test('the seeded templates pass the template checks, and an operator\'s edit to one survives a reseed', async t => {
  const { checkTemplate } = await import('../../src/hub/provisioning/template.ts')
  const { templateOf } = await import('../../src/db/alts.ts')
  const db = await open(t)
  await seed(db.prisma, { env: 'test', adminPassword: 'x-password' })
  for (const alt of await db.prisma.alt.findMany()) {
    const template = templateOf(alt)
    t.same(checkTemplate(template), { ok: true, value: template }, `${alt.name} is a valid template as stored`)
  }
  const mc = await db.prisma.alt.findUniqueOrThrow({ where: { name: MINECRAFT_ALT.name } })
  t.equal(mc.startup, 'java -Xms128M -Xmx{{SERVER_MEMORY}}M -jar {{SERVER_JARFILE}} nogui')
  t.ok(new RegExp(mc.doneRegex as string).test('[12:00:01] [Server thread/INFO]: Done (4.213s)! For help, type "help"'), 'doneRegex matches the real banner')
  await db.prisma.alt.update({ where: { id: mc.id }, data: { startup: 'java -jar custom.jar nogui' } })
  await seed(db.prisma, { env: 'test', adminPassword: 'x-password' })
  t.equal((await db.prisma.alt.findUniqueOrThrow({ where: { id: mc.id } })).startup, 'java -jar custom.jar nogui', 'never overwritten')
})
