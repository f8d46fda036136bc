// Starts a whole hub from a Config: embedded PostgreSQL when no DATABASE_URL is given,
// migrations, the seed, the Fastify instance, and listening. Returns a handle whose
// close() undoes it all in reverse order. main.ts and the simulator both use it.
import type { FastifyInstance } from 'fastify'
import pino, { type Logger } from 'pino'
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../db/embedded-postgres.ts'
import { migrate } from '../db/migrator.ts'
import { seed } from '../db/seed.ts'
import { buildHub } from './build-hub.ts'
import type { Config } from './config.ts'
import { demoSeedWarning } from './exposure.ts'
import { listenBacklog } from './listen-backlog.ts'

export interface RunningHub {
  app: FastifyInstance
  url: string
  close (): Promise<void>
}

export async function startHub (config: Config, logger: Logger = pino({ level: config.logLevel })): Promise<RunningHub> {
  let embedded: EmbeddedPostgres | undefined
  let databaseUrl = config.databaseUrl
  if (databaseUrl === undefined) {
    embedded = await startEmbeddedPostgres({ dataDir: config.dataDir, log: logger })
    databaseUrl = embedded.url
  }
  let app: FastifyInstance | undefined
  try {
    await migrate(databaseUrl, { log: logger })
    app = await buildHub({ config: { ...config, databaseUrl }, logger })
    const exposed = demoSeedWarning(config)
    if (exposed !== undefined) logger.warn({ host: config.host, env: config.env }, exposed)
    const { generatedAdminPassword } = await seed(app.db.prisma, { env: config.env, adminPassword: config.adminPassword })
    if (generatedAdminPassword !== undefined) {
      // Printed once, on the run that created the user; it is not stored anywhere in clear.
      process.stdout.write(`\n  admin password (generated, shown once): ${generatedAdminPassword}\n\n`)
    }
    const backlog = await listenBacklog(config.listenBacklog)
    const address = await app.listen({ host: config.host, port: config.port, backlog })
    logger.info({ url: address, backlog }, 'hub listening')
    const running = app
    return {
      app: running,
      url: address,
      async close () {
        await running.close()
        await embedded?.stop()
      }
    }
  } catch (err) {
    await app?.close().catch(() => {})
    await embedded?.stop().catch(() => {})
    throw err
  }
}
