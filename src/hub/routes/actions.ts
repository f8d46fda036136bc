// Power actions over HTTP: request one (202, durable before the answer), read one, list a
// server's history (newest first, cursor pagination). Access: as for the server. A caller who may
// not view a server gets 404 for it and its actions, so existence does not leak; one who may view
// but not control gets 403 on POST.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { Text } from '../../agent-protocol/text.ts'
import { ACTION_TYPES } from '../../db/sql/actions.ts'
import { budgetsOf, createActionLimits } from '../action-limits.ts'
import type { Config } from '../config.ts'
import { actionConflict, ForbiddenError, NotFoundError, NotReadyError, RateLimitedError, retryLater } from '../errors.ts'
import { createBatchedLookup } from '../group-commit.ts'
import { principalOf } from '../plugins/auth.ts'
import { canControlServer, canViewServer } from '../rbac.ts'
import { Id } from '../../agent-protocol/ids.ts'

const ServerParams = Type.Object({ id: Id })
const ActionBody = Type.Object({
  action: Type.Enum([...ACTION_TYPES]),
  idempotencyKey: Type.Optional(Text({ minLength: 1, maxLength: 200 }))
}, { additionalProperties: false })
const ListQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })),
  before: Type.Optional(Id)
}, { additionalProperties: false })

/** What an action looks like over HTTP: the model's fields, without `details` and `deadlineAt`. */
const PUBLIC = [
  'id', 'serverId', 'userId', 'action', 'state', 'idempotencyKey', 'timestamp', 'updatedAt',
  'expiresAt', 'dispatchedAt', 'ackedAt', 'completedAt', 'errorCode', 'errorMessage'
] as const
const PUBLIC_FIELDS = Object.fromEntries(PUBLIC.map(f => [f, true])) as Record<typeof PUBLIC[number], true>

const actionsRoutes: FastifyPluginAsyncTypebox<{ config: Config, now?: () => number }> = async (app, { config, now = Date.now }) => {
  const { prisma } = app.db

  // Servers by id, one named statement for every request that arrives while one is in flight
  // (group-commit.ts), as for sessions: under load, one query per batch, not per request.
  const serverRef = createBatchedLookup(async ids => await app.repos.servers.refs(ids), 2)
  /** The server, if the caller may view it (404 otherwise, as for an unknown one); 503 when it cannot be read. */
  const viewableServer = async (id: string, principal: ReturnType<typeof principalOf>, orControl = false) => {
    let server
    try {
      server = await serverRef(id)
    } catch (err) {
      app.log.error({ err }, 'server lookup failed')
      throw new NotReadyError('the server could not be read; retry shortly')
    }
    if (server === undefined || !(canViewServer(principal, server) || (orControl && canControlServer(principal, server)))) throw new NotFoundError('server not found')
    return server
  }

  const limits = createActionLimits(budgetsOf(config), now)

  app.post('/api/servers/:id/actions', { schema: { params: ServerParams, body: ActionBody } }, async (request, reply) => {
    // The session was proved by the /api hook before this lookup: an anonymous caller learns nothing.
    const principal = principalOf(request)
    const server = await viewableServer(request.params.id, principal, true)
    if (!canControlServer(principal, server)) throw new ForbiddenError('permission servers.control (or ownership) is required')
    // Per user and per server, after the access checks (a refused caller spends nothing).
    const waitMs = limits.take({ userId: principal.userId, serverId: server.id, action: request.body.action })
    if (waitMs > 0) throw retryLater(new RateLimitedError('too many actions; slow down'), waitMs)
    const { store, dispatcher } = app.actions
    const outcome = await store.create({
      serverId: server.id,
      userId: principal.userId,
      action: request.body.action,
      idempotencyKey: request.body.idempotencyKey ?? null,
      dispatchTo: dispatcher.holds(server.nodeId) ? server.nodeId : null
    })
    switch (outcome.kind) {
      case 'created':
        // Answered as accepted, QUEUED (PROTOCOL.md), also when this hub claimed it in the same
        // transaction (DISPATCHED): the answer races the command frame anyway; GET has the current state.
        return await reply.code(202).send({ actionId: outcome.row.id, state: 'QUEUED' })
      case 'repeated':
        return await reply.code(202).send({ actionId: outcome.row.id, state: outcome.row.state })
      case 'conflict':
        throw actionConflict(outcome.row.id, outcome.row.action, outcome.row.state)
      case 'refused':
        throw new NotReadyError('the action could not be stored; retry shortly')
    }
  })

  app.get('/api/actions/:id', { schema: { params: ServerParams } }, async request => {
    const action = await prisma.serverAction.findUnique({ where: { id: request.params.id }, select: { ...PUBLIC_FIELDS, server: { select: { ownerId: true } } } })
    if (action === null || !canViewServer(principalOf(request), action.server)) throw new NotFoundError('action not found')
    const { server: _server, ...rest } = action
    return rest
  })

  app.get('/api/servers/:id/actions', { schema: { params: ServerParams, querystring: ListQuery } }, async request => {
    const server = await viewableServer(request.params.id, principalOf(request))
    const { limit = 50, before } = request.query
    const items = await prisma.serverAction.findMany({
      where: { serverId: server.id },
      orderBy: [{ timestamp: 'desc' }, { id: 'desc' }],
      take: limit + 1,
      ...(before === undefined ? {} : { cursor: { id: before }, skip: 1 }),
      select: PUBLIC_FIELDS
    })
    const more = items.length > limit
    const page = more ? items.slice(0, limit) : items
    return { items: page, next: more ? (page[page.length - 1] as { id: string }).id : null }
  })
}

export default actionsRoutes
