// Servers and their status history (PROTOCOL.md "HTTP API"); their configuration (1.1) is
// checked and written by provisioning/config-writes.ts. Templates (alts) are in alts.ts.
// Viewing follows rbac.ts: owners see their own servers, `servers.view` and admins see all. A
// server the caller may not view answers 404, as an unknown one does, so ids of other users'
// servers cannot be probed.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { Text } from '../../agent-protocol/text.ts'
import { notifyAuthChange } from '../../db/sql/auth-notify.ts'
import { notifyProvision } from '../../db/sql/provision.ts'
import { BadRequestError, ForbiddenError, NotFoundError } from '../errors.ts'
import { principalOf } from '../plugins/auth.ts'
import { createConfigWrites } from '../provisioning/config-writes.ts'
import { AutoRestartBody, Environment, MemoryLimitMb } from '../provisioning/schemas.ts'
import { can, canViewServer, type PermissionName, type Principal } from '../rbac.ts'
// Ids are canonical lower-case UUIDs (PROTOCOL.md 1.1): one schema for every route.
import { Id as Uuid } from '../../agent-protocol/ids.ts'

const ServerParams = Type.Object({ id: Uuid })
const Limit = Type.Optional(Type.Integer({ minimum: 1, maximum: 500 }))
const DEFAULT_LIMIT = 100

const CreateServerBody = Type.Object({
  name: Text({ minLength: 1, maxLength: 128 }),
  nodeId: Uuid,
  altId: Uuid,
  ownerId: Uuid,
  port: Type.Integer({ minimum: 1, maximum: 65535 }),
  environment: Type.Optional(Environment),
  memoryLimitMb: Type.Optional(MemoryLimitMb),
  autoRestart: Type.Optional(AutoRestartBody)
}, { additionalProperties: false })

const PatchServerBody = Type.Object({
  name: Type.Optional(Text({ minLength: 1, maxLength: 128 })),
  environment: Type.Optional(Environment),
  memoryLimitMb: Type.Optional(MemoryLimitMb),
  autoRestart: Type.Optional(AutoRestartBody)
}, { additionalProperties: false, minProperties: 1 })

function require (principal: Principal, permission: PermissionName): void {
  if (!can(principal, permission)) throw new ForbiddenError(`permission ${permission} is required`)
}

const serversRoutes: FastifyPluginAsyncTypebox = async app => {
  const { servers } = app.repos
  const writes = createConfigWrites(app.db.prisma, app.repos)

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
    return await reply.code(201).send(await writes.createServer(request.body))
  })

  // Name and configuration; a new revision reaches the node's agent (server.config).
  app.patch('/api/servers/:id', { schema: { params: ServerParams, body: PatchServerBody } }, async request => {
    require(principalOf(request), 'servers.create')
    const server = await writes.updateServer(request.params.id, request.body)
    if (server === null) throw new NotFoundError('server not found')
    return server
  })

  app.delete('/api/servers/:id', { schema: { params: ServerParams } }, async (request, reply) => {
    require(principalOf(request), 'servers.delete')
    const serverId = request.params.id
    // The NOTIFY commits with the delete, so every hub drops the panel subscriptions to the server
    // (error NOT_FOUND) exactly when it is gone, and never for a delete that rolled back.
    // The provision notice tells the node's agent (server.removed) through whichever hub holds it.
    const deleted = await app.db.prisma.$transaction(async tx => {
      const server = await servers.get(serverId, tx)
      if (server === null || !await servers.delete(serverId, tx)) return false
      await notifyAuthChange(tx, { serverId })
      await notifyProvision(tx, { kind: 'removed', serverId, nodeId: server.nodeId })
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
}

export default serversRoutes
