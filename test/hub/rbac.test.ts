import t from 'tap'
import { can, canControlServer, canViewServer, effectivePermissions, PERMISSION_NAMES, type Principal } from '../../src/hub/rbac.ts'

const user = (permissions: string[] = [], role: 'ADMIN' | 'USER' = 'USER'): Principal => ({ userId: 'u1', role, permissions: new Set(permissions) })
const own = { ownerId: 'u1' }
const foreign = { ownerId: 'u2' }

t.test('a user without rights can do nothing but see and control their own servers', async t => {
  const nobody = user()
  for (const p of PERMISSION_NAMES) t.notOk(can(nobody, p), p)
  t.ok(canViewServer(nobody, own))
  t.ok(canControlServer(nobody, own))
  t.notOk(canViewServer(nobody, foreign))
  t.notOk(canControlServer(nobody, foreign))
  t.same(effectivePermissions(nobody), [])
})

t.test('an admin holds every permission without grants', async t => {
  const admin = user([], 'ADMIN')
  for (const p of PERMISSION_NAMES) t.ok(can(admin, p), p)
  t.ok(canViewServer(admin, foreign))
  t.ok(canControlServer(admin, foreign))
  t.same(effectivePermissions(admin), PERMISSION_NAMES)
})

t.test('granted permissions decide, each on its own', async t => {
  const viewer = user(['servers.view'])
  t.ok(canViewServer(viewer, foreign))
  t.notOk(canControlServer(viewer, foreign), 'viewing does not imply control')
  const controller = user(['servers.control'])
  t.ok(canControlServer(controller, foreign))
  t.notOk(canViewServer(controller, foreign), 'control does not imply view')
  t.same(effectivePermissions(user(['users.manage', 'unknown.permission'])), ['users.manage'])
})
