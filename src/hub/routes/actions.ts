// Power actions over HTTP: request one (202, durable before the answer), read one, list a
// server's history (newest first, cursor pagination). Access: as for the server. A caller who may
// not view a server gets 404 for it and its actions, so existence does not leak; one who may view
// but not control gets 403 on POST.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { Text } from '../../agent-protocol/text.ts'
import { ACTION_TYPES } from '../../db/sql/actions.ts'
import { actionConflict, BadRequestError, FeatureUnsupportedError, ForbiddenError, NotFoundError, NotReadyError, RateLimitedError, retryLater, serverNotRunning } from '../errors.ts'
import { createBatchedLookup } from '../group-commit.ts'
import { principalOf } from '../plugins/auth.ts'
import { canControlServer, canUseConsole, canViewServer } from '../rbac.ts'
import { Id } from '../../agent-protocol/ids.ts'

/** A COMMAND's console input (PROTOCOL.md 1.1): 1-1,024 characters of storable text, no CR or LF. */
export const CommandInput = Text({ minLength: 1, maxLength: 1024, pattern: '^[^\\r\\n]*$' })
const ServerParams = Type.Object({ id: Id })
const ActionBody = Type.Object({
  action: Type.Enum([...ACTION_TYPES]),
  idempotencyKey: Type.Optional(Text({ minLength: 1, maxLength: 200 })),
  // COMMAND only (checked in the handler): one console line, written with a newline by the agent.
  input: Type.Optional(CommandInput)
}, { additionalProperties: false })
const ListQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })),
  before: Type.Optional(Id)
}, { additionalProperties: false })

/** What an action looks like over HTTP: the model's fields, without `deadlineAt` (`details` since 1.1: a COMMAND's input). */
const PUBLIC = [
  'id', 'serverId', 'userId', 'action', 'state', 'details', 'idempotencyKey', 'timestamp', 'updatedAt',
  'expiresAt', 'dispatchedAt', 'ackedAt', 'completedAt', 'errorCode', 'errorMessage'
] as const
const PUBLIC_FIELDS = Object.fromEntries(PUBLIC.map(f => [f, true])) as Record<typeof PUBLIC[number], true>

/**
 * Console input is read with console rights: what was typed (an `op`, an RCON password) is no
 * more visible to a viewer than the console output is. A viewer sees that a COMMAND ran, not what.
 */
const redacted = <A extends { details: unknown }>(action: A, mayReadConsole: boolean): A =>
  mayReadConsole || action.details === null ? action : { ...action, details: null }

const actionsRoutes: FastifyPluginAsyncTypebox = async (app) => {
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
    // Control or console use implies seeing the server: such a caller gets 403, not 404, for the other.
    if (server === undefined || !(canViewServer(principal, server) || (orControl && (canControlServer(principal, server) || canUseConsole(principal, server))))) throw new NotFoundError('server not found')
    return server
  }

  app.post('/api/servers/:id/actions', { schema: { params: ServerParams, body: ActionBody } }, async (request, reply) => {
    // The session was proved by the /api hook before this lookup: an anonymous caller learns nothing.
    const principal = principalOf(request)
    const server = await viewableServer(request.params.id, principal, true)
    const { action, input } = request.body
    if ((action === 'COMMAND') !== (input !== undefined)) throw new BadRequestError('body/input is required for COMMAND and allowed only for it')
    if (action === 'COMMAND') {
      if (!canUseConsole(principal, server)) throw new ForbiddenError('permission servers.console (or ownership) is required')
    } else if (!canControlServer(principal, server)) throw new ForbiddenError('permission servers.control (or ownership) is required')
    // Per user and per server, after the access checks (a refused caller spends nothing).
    const waitMs = app.actions.limits.take({ userId: principal.userId, serverId: server.id, action })
    if (waitMs > 0) throw retryLater(new RateLimitedError('too many actions; slow down'), waitMs)
    const { store, dispatcher } = app.actions
    const outcome = await store.create({
      serverId: server.id,
      userId: principal.userId,
      action,
      input: input ?? null,
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
      case 'not-running':
        throw serverNotRunning(outcome.status)
      case 'unsupported':
        throw new FeatureUnsupportedError(`the server's node has not negotiated the ${outcome.feature} feature`)
      case 'refused':
        throw new NotReadyError('the action could not be stored; retry shortly')
    }
  })

  app.get('/api/actions/:id', { schema: { params: ServerParams } }, async request => {
    const action = await prisma.serverAction.findUnique({ where: { id: request.params.id }, select: { ...PUBLIC_FIELDS, server: { select: { ownerId: true } } } })
    const principal = principalOf(request)
    if (action === null || !canViewServer(principal, action.server)) throw new NotFoundError('action not found')
    const { server, ...rest } = action
    return redacted(rest, canUseConsole(principal, server))
  })

  app.get('/api/servers/:id/actions', { schema: { params: ServerParams, querystring: ListQuery } }, async request => {
    const principal = principalOf(request)
    const server = await viewableServer(request.params.id, principal)
    const { limit = 50, before } = request.query
    const items = await prisma.serverAction.findMany({
      where: { serverId: server.id },
      orderBy: [{ timestamp: 'desc' }, { id: 'desc' }],
      take: limit + 1,
      ...(before === undefined ? {} : { cursor: { id: before }, skip: 1 }),
      select: PUBLIC_FIELDS
    })
    const more = items.length > limit
    const mayReadConsole = canUseConsole(principal, server)
    const page = (more ? items.slice(0, limit) : items).map(a => redacted(a, mayReadConsole))
    return { items: page, next: more ? (page[page.length - 1] as { id: string }).id : null }
  })
}

export default actionsRoutes
