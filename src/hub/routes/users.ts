// User administration (`users.manage`): create and delete users, grant and revoke permissions.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import Type from 'typebox'
import { hashPassword } from '../../db/passwords.ts'
import { PERMISSION_NAMES } from '../../db/permissions.ts'
import { notifyAuthChange } from '../../db/sql/auth-notify.ts'
import { ConflictError, ForbiddenError, NotFoundError } from '../errors.ts'
import { principalOf } from '../plugins/auth.ts'
import { can } from '../rbac.ts'
// Ids are canonical lower-case UUIDs (PROTOCOL.md 1.1): one schema for every route.
import { Id as Uuid } from '../../agent-protocol/ids.ts'

const UserParams = Type.Object({ id: Uuid })

const CreateUserBody = Type.Object({
  username: Type.String({ minLength: 3, maxLength: 64, pattern: '^[A-Za-z0-9_.-]+$' }),
  email: Type.String({ format: 'email', maxLength: 254 }),
  password: Type.String({ minLength: 8, maxLength: 256 }),
  role: Type.Optional(Type.Enum(['ADMIN', 'USER']))
}, { additionalProperties: false })

const GrantBody = Type.Object({ permission: Type.Enum(PERMISSION_NAMES) }, { additionalProperties: false })

const usersRoutes: FastifyPluginAsyncTypebox = async app => {
  const { users } = app.repos
  /** Runs a change to a user and announces it in the same transaction (delivered at commit), so
   *  every hub re-checks that user's panel sockets at once. */
  const changingUser = async <T>(userId: string, change: (tx: Parameters<Parameters<typeof app.db.prisma.$transaction>[0]>[0]) => Promise<T>): Promise<T> =>
    await app.db.prisma.$transaction(async tx => {
      const result = await change(tx)
      await notifyAuthChange(tx, { userId })
      return result
    })

  app.addHook('preHandler', app.authenticate)
  app.addHook('preHandler', async (request: FastifyRequest) => {
    if (!can(principalOf(request), 'users.manage')) throw new ForbiddenError('permission users.manage is required')
  })

  app.post('/api/users', { schema: { body: CreateUserBody } }, async (request, reply) => {
    const { username, email, password, role = 'USER' } = request.body
    const user = await users.create({ username, email, role, passwordHash: await hashPassword(password) })
    return await reply.code(201).send(user)
  })

  app.delete('/api/users/:id', { schema: { params: UserParams } }, async (request, reply) => {
    if (request.params.id === principalOf(request).userId) throw new ConflictError('you cannot delete yourself')
    try {
      if (!await changingUser(request.params.id, async tx => await users.delete(request.params.id, tx))) throw new NotFoundError('user not found')
    } catch (err) {
      if ((err as { code?: string }).code === 'P2003') throw new ConflictError('the user still owns servers')
      throw err
    }
    return await reply.code(204).send()
  })

  app.post('/api/users/:id/permissions', { schema: { params: UserParams, body: GrantBody } }, async (request, reply) => {
    try {
      await changingUser(request.params.id, async tx => await users.grant(request.params.id, request.body.permission, principalOf(request).userId, tx))
    } catch (err) {
      if ((err as { code?: string }).code === 'P2003') throw new NotFoundError('user not found')
      throw err
    }
    return await reply.code(201).send(await users.get(request.params.id))
  })

  app.delete('/api/users/:id/permissions/:permission', {
    schema: { params: Type.Object({ id: Uuid, permission: Type.String({ maxLength: 64 }) }) }
  }, async (request, reply) => {
    if (!await changingUser(request.params.id, async tx => await users.revoke(request.params.id, request.params.permission, tx))) throw new NotFoundError('the user does not hold this permission')
    return await reply.code(204).send()
  })
}

export default usersRoutes
