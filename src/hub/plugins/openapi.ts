// OpenAPI 3 for people who build their own panel, generated from the route schemas by
// @fastify/swagger. Registered before the routes so its onRoute hook sees every one of them;
// routes with `schema.hide` (static files, the sockets' upgrade routes) stay out.
import swagger from '@fastify/swagger'
import fp from 'fastify-plugin'

export default fp(async app => {
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
  app.get('/api/openapi.json', { schema: { hide: true } }, async () => app.swagger())
}, { name: 'hub-openapi' })
