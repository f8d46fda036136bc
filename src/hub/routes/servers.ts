// Servers, their status history and the alts they are made from (PROTOCOL.md "HTTP API").
// Viewing follows rbac.ts: owners see their own servers, `servers.view` and admins see all. A
// server the caller may not view answers 404, as an unknown one does, so ids of other users'
// servers cannot be probed.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { Text } from '../../agent-protocol/text.ts'
import { notifyAuthChange } from '../../db/sql/auth-notify.ts'
import { BadRequestError, ForbiddenError, NotFoundError } from '../errors.ts'
import { principalOf } from '../plugins/auth.ts'
import { can, canViewServer, type PermissionName, type Principal } from '../rbac.ts'

const Uuid = Type.String({ format: 'uuid' })
const ServerParams = Type.Object({ id: Uuid })
const Limit = Type.Optional(Type.Integer({ minimum: 1, maximum: 500 }))
const DEFAULT_LIMIT = 100

const CreateServerBody = Type.Object({
  name: Text({ minLength: 1, maxLength: 128 }),
  nodeId: Uuid,
  altId: Uuid,
  ownerId: Uuid,
  port: Type.Integer({ minimum: 1, maximum: 65535 })
}, { additionalProperties: false })

const CreateAltBody = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9_.-]+$' }),
  image: Text({ minLength: 1, maxLength: 512 }),
  startup: Text({ minLength: 1, maxLength: 4_096 })
}, { additionalProperties: false })

function require (principal: Principal, permission: PermissionName): void {
  if (!can(principal, permission)) throw new ForbiddenError(`permission ${permission} is required`)
}

const serversRoutes: FastifyPluginAsyncTypebox = async app => {
  const { servers } = app.repos

  /** The server, if the caller may view it; 404 otherwise. */
  const visible = async (principal: Principal, id: string) => {
    const server = await servers.get(id)
    if (server === null || !canViewServer(principal, server)) throw new NotFoundError('server not found')
    return server
  }

  app.get('/api/servers', {
    schema: { querystring: Type.Object({ limit: Limit, after: Type.Optional(Uuid), nodeId: Type.Optional(Uuid) }, { additionalProperties: false }) }
  }, async request => {
    const principal = principalOf(request)
    const { limit = DEFAULT_LIMIT, after, nodeId } = request.query
    return await servers.list({ limit, after, nodeId, ownerId: can(principal, 'servers.view') ? undefined : principal.userId })
  })

  app.get('/api/servers/:id', { schema: { params: ServerParams } }, async request =>
    await visible(principalOf(request), request.params.id))

  app.post('/api/servers', { schema: { body: CreateServerBody } }, async (request, reply) => {
    require(principalOf(request), 'servers.create')
    return await reply.code(201).send(await servers.create(request.body))
  })

  app.delete('/api/servers/:id', { schema: { params: ServerParams } }, async (request, reply) => {
    require(principalOf(request), 'servers.delete')
    const serverId = request.params.id
    // The NOTIFY commits with the delete, so every hub drops the panel subscriptions to the server
    // (error NOT_FOUND) exactly when it is gone, and never for a delete that rolled back.
    const deleted = await app.db.prisma.$transaction(async tx => {
      if (!await servers.delete(serverId, tx)) return false
      await notifyAuthChange(tx, { serverId })
      return true
    })
    if (!deleted) throw new NotFoundError('server not found')
    return await reply.code(204).send()
  })

  app.get('/api/servers/:id/transitions', {
    schema: { params: ServerParams, querystring: Type.Object({ limit: Limit, before: Type.Optional(Uuid) }, { additionalProperties: false }) }
  }, async request => {
    await visible(principalOf(request), request.params.id)
    const { limit = DEFAULT_LIMIT, before } = request.query
    const history = await servers.transitions(request.params.id, { limit, before })
    if (history === undefined) throw new BadRequestError('before must name a transition of this server')
    return history
  })

  app.get('/api/alts', async () => ({ items: await servers.alts(), next: null }))

  app.post('/api/alts', { schema: { body: CreateAltBody } }, async (request, reply) => {
    require(principalOf(request), 'servers.create')
    return await reply.code(201).send(await servers.createAlt(request.body))
  })
}

export default serversRoutes
