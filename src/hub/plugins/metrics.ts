// Prometheus metrics at /metrics: default process metrics, the database pool, HTTP request
// durations, and the operations metrics (operations-metrics.ts, docs/operations.md). A registry per hub instance, so several hubs in one test process
// never share counters. With config.metricsToken set, the endpoint wants that bearer token.
import { timingSafeEqual } from 'node:crypto'
import fp from 'fastify-plugin'
import { collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'
import { UnauthorizedError } from '../errors.ts'
import { registerOperationsMetrics } from '../operations-metrics.ts'
import { registerTrafficMetrics } from '../traffic-metrics.ts'
import { bearerToken } from './auth.ts'

declare module 'fastify' {
  interface FastifyInstance {
    metrics: Registry
  }
}

const sameSecret = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b))

export default fp<{ token?: string }>(async (app, { token }) => {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry, prefix: 'hub_' })
  const pool = app.db.pool
  const gauge = (name: string, help: string, read: () => number) =>
    new Gauge({ name, help, registers: [registry], collect () { this.set(read()) } })
  gauge('hub_db_pool_connections', 'Connections open in the database pool', () => pool.totalCount)
  gauge('hub_db_pool_idle', 'Idle connections in the database pool', () => pool.idleCount)
  gauge('hub_db_pool_waiting', 'Queries waiting for a pool connection', () => pool.waitingCount)
  registerOperationsMetrics(app, registry)
  registerTrafficMetrics(app, registry)

  const requests = new Histogram({
    name: 'hub_http_request_duration_seconds',
    help: 'HTTP request duration by route and status',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry]
  })
  app.addHook('onResponse', async (request, reply) => {
    requests.observe({ method: request.method, route: request.routeOptions.url ?? 'unmatched', status: reply.statusCode }, reply.elapsedTime / 1000)
  })

  app.decorate('metrics', registry)
  app.get('/metrics', async (request, reply) => {
    if (token !== undefined && !sameSecret(bearerToken(request.headers.authorization) ?? '', token)) {
      throw new UnauthorizedError('a valid metrics token is required')
    }
    return await reply.type(registry.contentType).send(await registry.metrics())
  })
}, { name: 'hub-metrics', dependencies: ['hub-database'] })
