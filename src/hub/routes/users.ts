// User administration (`users.manage`): list, create and delete users, grant and revoke
// permissions; changing a role is for ADMINs only. `users.manage` is not ADMIN in disguise
// (PROTOCOL.md 1.1): only an ADMIN creates ADMINs, deletes an ADMIN or grants a permission it does
// not hold itself (403); the last ADMIN is never deleted nor demoted (409, from the repository).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import Type from 'typebox'
import { hashPassword } from '../../db/passwords.ts'
import { PERMISSION_NAMES } from '../../db/permissions.ts'
import { notifyAuthChange } from '../../db/sql/auth-notify.ts'
import { ConflictError, ForbiddenError, NotFoundError } from '../errors.ts'
import { principalOf } from '../plugins/auth.ts'
import { can, isAdmin } from '../rbac.ts'
// Ids are canonical lower-case UUIDs (PROTOCOL.md 1.1): one schema for every route.
import { Id as Uuid } from '../../agent-protocol/ids.ts'

const UserParams = Type.Object({ id: Uuid })
const Role = Type.Enum(['ADMIN', 'USER'])

const CreateUserBody = Type.Object({
  username: Type.String({ minLength: 3, maxLength: 64, pattern: '^[A-Za-z0-9_.-]+$' }),
  email: Type.String({ format: 'email', maxLength: 254 }),
  password: Type.String({ minLength: 8, maxLength: 256 }),
  role: Type.Optional(Role)
}, { additionalProperties: false })

const ListQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })),
  after: Type.Optional(Uuid)
}, { additionalProperties: false })

const GrantBody = Type.Object({ permission: Type.Enum(PERMISSION_NAMES) }, { additionalProperties: false })
const RoleBody = Type.Object({ role: Role }, { additionalProperties: false })

const onlyAdmin = (request: FastifyRequest, what: string) => {
  if (!isAdmin(principalOf(request))) throw new ForbiddenError(`only an ADMIN ${what}`)
}

const usersRoutes: FastifyPluginAsyncTypebox = async app => {
  const { users } = app.repos
  type Tx = Parameters<Parameters<typeof app.db.prisma.$transaction>[0]>[0]
  /** Runs a change to a user and announces it in the same transaction (delivered at commit), so
   *  every hub re-checks that user's panel sockets at once. */
  const changingUser = async <T>(userId: string, change: (tx: Tx) => Promise<T>): Promise<T> =>
    await app.db.prisma.$transaction(async tx => {
      const result = await change(tx)
      await notifyAuthChange(tx, { userId })
      return result
    })

  app.addHook('preHandler', async (request: FastifyRequest) => {
    if (!can(principalOf(request), 'users.manage')) throw new ForbiddenError('permission users.manage is required')
  })

  app.get('/api/users', { schema: { querystring: ListQuery } }, async request => {
    const { limit = 100, after } = request.query
    return await users.list({ limit, after })
  })

  app.get('/api/users/:id', { schema: { params: UserParams } }, async request => {
    const user = await users.get(request.params.id)
    if (user === null) throw new NotFoundError('user not found')
    return user
  })

  app.post('/api/users', { schema: { body: CreateUserBody } }, async (request, reply) => {
    const { username, email, password, role = 'USER' } = request.body
    if (role === 'ADMIN') onlyAdmin(request, 'creates ADMINs')
    const user = await users.create({ username, email, role, passwordHash: await hashPassword(password) })
    return await reply.code(201).send(user)
  })

  app.patch('/api/users/:id', { schema: { params: UserParams, body: RoleBody } }, async request => {
    onlyAdmin(request, 'changes roles')
    return await changingUser(request.params.id, async tx => await users.setRole(request.params.id, request.body.role, tx))
  })

  app.delete('/api/users/:id', { schema: { params: UserParams } }, async (request, reply) => {
    if (request.params.id === principalOf(request).userId) throw new ConflictError('you cannot delete yourself')
    await changingUser(request.params.id, async tx => { await users.delete(request.params.id, tx, () => { onlyAdmin(request, 'deletes an ADMIN') }) })
    return await reply.code(204).send()
  })

  app.post('/api/users/:id/permissions', { schema: { params: UserParams, body: GrantBody } }, async (request, reply) => {
    const principal = principalOf(request)
    const { permission } = request.body
    if (!can(principal, permission)) throw new ForbiddenError(`only an ADMIN grants a permission it does not hold itself (${permission})`)
    await changingUser(request.params.id, async tx => { await users.grant(request.params.id, permission, principal.userId, tx) })
    return await reply.code(201).send(await users.get(request.params.id))
  })

  app.delete('/api/users/:id/permissions/:permission', {
    schema: { params: Type.Object({ id: Uuid, permission: Type.String({ maxLength: 64 }) }) }
  }, async (request, reply) => {
    await changingUser(request.params.id, async tx => { await users.revoke(request.params.id, request.params.permission, tx) })
    return await reply.code(204).send()
  })
}

export default usersRoutes
