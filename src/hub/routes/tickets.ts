// POST /api/ws-ticket: a single-use ticket, valid 30 s, that opens /panel/v1 for browsers, which
// cannot set headers on a WebSocket upgrade. Stored hashed in PostgreSQL, so any hub accepts it.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { createTicket } from '../../db/sql/tickets.ts'
import type { Auth } from '../plugins/auth.ts'
import { hashToken, newToken } from '../tokens.ts'

export const TICKET_TTL_MS = 30_000

const ticketRoutes: FastifyPluginAsyncTypebox<{ now: () => Date }> = async (app, { now }) => {
  app.post('/api/ws-ticket', async (request, reply) => {
    const { sessionId, expiresAt: sessionEnds } = request.auth as Auth
    const ticket = newToken()
    // A ticket never outlives its session.
    const expiresAt = new Date(Math.min(now().getTime() + TICKET_TTL_MS, sessionEnds.getTime()))
    await createTicket(app.db.pool, hashToken(ticket), sessionId, expiresAt)
    return await reply.code(201).send({ ticket, expiresAt })
  })
}

export default ticketRoutes
