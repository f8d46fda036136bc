// Builds the hub's Fastify instance from a validated Config and optional injected pieces.
// Every plugin is registered here, explicitly and in order, so the order stays visible.
// Never reads process.env: main.ts does that.
import Fastify, { type FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { TypeBoxValidatorCompiler } from '@fastify/type-provider-typebox'
import type { Logger } from 'pino'
import type { HubBackup } from '../db/backup/hub-backup.ts'
import type { Database } from '../db/database.ts'
import { createPasswordChecker } from '../db/passwords.ts'
import { createAgentTokens, loadOrCreateKeySet, type AgentTokens } from './agent-tokens.ts'
import { createLocalBus, type Bus } from './bus.ts'
import type { Config } from './config.ts'
import { httpServerOptions } from './http-server.ts'
import { createLoginLimiter } from './login-limiter.ts'
import actionsPlugin from './plugins/actions.ts'
import consolePlugin from './plugins/console.ts'
import agentGateway, { type IngestTuning } from './plugins/agent-gateway.ts'
import authPlugin from './plugins/auth.ts'
import backupsPlugin from './plugins/backups.ts'
import databasePlugin from './plugins/database.ts'
import errorHandler from './plugins/error-handler.ts'
import eventsPlugin from './plugins/events.ts'
import metricsPlugin from './plugins/metrics.ts'
import openapiPlugin from './plugins/openapi.ts'
import panelGateway from './plugins/panel-gateway.ts'
import provisioningPlugin from './plugins/provisioning.ts'
import queuePlugin from './plugins/queue.ts'
import retentionPlugin from './plugins/retention.ts'
import webPlugin from './plugins/web.ts'
import actionsRoutes from './routes/actions.ts'
import altsRoutes from './routes/alts.ts'
import authRoutes from './routes/auth.ts'
import backupsRoutes from './routes/backups.ts'
import healthRoutes from './routes/health.ts'
import nodesRoutes from './routes/nodes.ts'
import serversRoutes from './routes/servers.ts'
import ticketRoutes from './routes/tickets.ts'
import usersRoutes from './routes/users.ts'

declare module 'fastify' {
  interface FastifyInstance {
    /** Committed events with their ids, as the event feed reads them from PostgreSQL. */
    bus: Bus
  }
}

export interface HubOptions {
  config: Config
  /** A database owned by the caller; when absent, one is made from config.databaseUrl. */
  db?: Database
  logger?: Logger
  /** The clock for sessions and limits; tests inject one. */
  now?: () => Date
  /** Signs and checks agent tokens; by default from config.agentKeys or a key set under config.dataDir. */
  agentTokens?: AgentTokens
  /** Where the event feed publishes committed events; an in-process bus by default. */
  bus?: Bus
  /** Status ingest batching, for benchmarks only (bench/ingest.ts measures a one-transaction-per-report baseline with it). */
  ingest?: IngestTuning
  /** Backups of the embedded cluster (only in the hub that started it; src/db/backup/hub-backup.ts). */
  backup?: HubBackup
}

/** HUB_TRUST_PROXY as Fastify takes it: a list of addresses or CIDRs, or false when empty. */
export function trustedProxies (setting: string): string[] | false {
  const list = setting.split(',').map(s => s.trim()).filter(s => s !== '')
  return list.length === 0 ? false : list
}

export async function buildHub (options: HubOptions): Promise<FastifyInstance> {
  const { config, now = () => new Date() } = options
  const app = Fastify({
    loggerInstance: options.logger,
    logger: options.logger === undefined ? { level: config.logLevel } : undefined,
    // At shutdown, close idle keep-alive connections at once and let in-flight requests finish.
    forceCloseConnections: 'idle',
    ...httpServerOptions(config),
    // X-Forwarded-For is believed only from these proxies (proxy-addr: addresses and CIDRs), so
    // `request.ip` is the client behind them; from anyone else it is ignored.
    trustProxy: trustedProxies(config.trustProxy)
  }).withTypeProvider<TypeBoxTypeProvider>()
  app.setValidatorCompiler(TypeBoxValidatorCompiler)

  const tokens = options.agentTokens ?? await createAgentTokens(
    config.agentKeys === undefined ? await loadOrCreateKeySet(config.dataDir) : JSON.parse(config.agentKeys), config.issuer)
  const bus = options.bus ?? createLocalBus(err => app.log.error({ err }, 'event listener failed'))

  app.decorate('bus', bus)
  await app.register(errorHandler)
  await app.register(openapiPlugin)
  await app.register(databasePlugin, { config, db: options.db })
  await app.register(eventsPlugin, { config, bus })
  await app.register(queuePlugin, { config })
  await app.register(retentionPlugin, { config, now })
  await app.register(backupsPlugin, { config, now, backup: options.backup })
  await app.register(metricsPlugin, { token: config.metricsToken })
  await app.register(authPlugin, { now })
  await app.register(healthRoutes)
  await app.register(authRoutes, {
    sessionTtlS: config.sessionTtlS,
    limiter: createLoginLimiter({ max: config.loginMaxAttempts, windowMs: config.loginWindowMs, now: () => now().getTime() }),
    passwords: createPasswordChecker({ concurrency: config.loginHashConcurrency, queue: config.loginHashQueue }),
    now
  })
  await app.register(usersRoutes)
  await app.register(backupsRoutes)
  await app.register(nodesRoutes, { tokens })
  await app.register(serversRoutes)
  await app.register(altsRoutes)
  await app.register(actionsPlugin, { config, bus, now: () => now().getTime() })
  await app.register(actionsRoutes)
  await app.register(consolePlugin, { config })
  await app.register(provisioningPlugin, { config })
  await app.register(agentGateway, { config, tokens, ingest: options.ingest })
  await app.register(ticketRoutes, { now })
  await app.register(panelGateway, { config, now })
  await app.register(webPlugin, { config })
  return app as unknown as FastifyInstance
}
