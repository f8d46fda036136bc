// Liveness and readiness. /readyz answers 503 while PostgreSQL is unreachable and 200 again
// as soon as it answers, with no restart in between (the pool redials on demand).
import type { FastifyInstance } from 'fastify'

export default async function healthRoutes (app: FastifyInstance) {
  app.get('/healthz', async () => ({ status: 'ok' }))
  app.get('/readyz', async (request, reply) => {
    const database = await app.db.ready()
    return await reply.code(database ? 200 : 503).send({ status: database ? 'ready' : 'not ready', checks: { database } })
  })
}
