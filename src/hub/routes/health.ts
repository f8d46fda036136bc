// Liveness and readiness. /readyz answers 503 while PostgreSQL (or pg-boss's schema in it) is unreachable and 200 again
// as soon as it answers, with no restart in between (the pool redials on demand).
import type { FastifyInstance } from 'fastify'

export default async function healthRoutes (app: FastifyInstance) {
  app.get('/healthz', async () => ({ status: 'ok' }))
  app.get('/readyz', async (request, reply) => {
    const [database, queue] = await Promise.all([app.db.ready(), app.queue.ready()])
    const ok = database && queue
    // Backup trouble (archiving failing, no encryption key) is said loudly but does not make the hub unready.
    const warnings = app.hasDecorator('backups') ? app.backups.warnings() : []
    return await reply.code(ok ? 200 : 503).send({ status: ok ? 'ready' : 'not ready', checks: { database, queue }, ...(warnings.length === 0 ? {} : { warnings }) })
  })
}
