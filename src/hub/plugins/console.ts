// Console output and stats (PROTOCOL.md 1.1): the hub's ring per server, latest stats and the
// panels watching them (console/console-hub.ts). Registered before both gateways: the agent
// gateway feeds it, the panel gateway subscribes panels to it.
import fp from 'fastify-plugin'
import { createConsoleHub, type ConsoleHub } from '../console/console-hub.ts'
import { realTimer } from '../timers.ts'

declare module 'fastify' {
  interface FastifyInstance {
    consoleHub: ConsoleHub
  }
}

export default fp(async app => {
  const hub = createConsoleHub({ setTimer: realTimer })
  app.decorate('consoleHub', hub)
  app.addHook('onClose', async () => { hub.stop() })
}, { name: 'hub-console' })
