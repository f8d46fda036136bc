// OpenAPI 3 for people who build their own panel, generated from the route schemas by
// @fastify/swagger. Registered before the routes so its onRoute hook sees every one of them;
// routes with `schema.hide` (static files, the sockets' upgrade routes) stay out. The routes
// seen are kept in `app.routeTable`, so a test can prove the document covers them all.
import swagger from '@fastify/swagger'
import fp from 'fastify-plugin'

export interface RouteEntry { method: string, url: string, hidden: boolean }

declare module 'fastify' {
  interface FastifyInstance {
    /** Every route registered after this plugin, as @fastify/swagger saw it. */
    routeTable: RouteEntry[]
  }
}

export default fp(async app => {
  const routeTable: RouteEntry[] = []
  app.decorate('routeTable', routeTable)
  app.addHook('onRoute', route => {
    const methods = Array.isArray(route.method) ? route.method : [route.method]
    const hidden = (route.schema as { hide?: boolean } | undefined)?.hide === true || (route as { websocket?: boolean }).websocket === true
    for (const method of methods) if (method !== 'HEAD') routeTable.push({ method, url: route.url, hidden })
  })
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'game-panel hub',
        version: '1.1.0',
        description: 'REST API of the hub. The WebSocket protocols (/agent/v1, /panel/v1) are in docs/protocol.md.'
      },
      components: { securitySchemes: { session: { type: 'http', scheme: 'bearer', description: 'session token from POST /api/auth/login' } } },
      security: [{ session: [] }]
    }
  })
  app.get('/api/openapi.json', { config: { auth: false }, schema: { hide: true } }, async () => app.swagger())
}, { name: 'hub-openapi' })
