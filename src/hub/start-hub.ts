// Starts a whole hub from a Config: embedded PostgreSQL when no DATABASE_URL is given,
// migrations, the seed, the Fastify instance, and listening. Returns a handle whose
// close() undoes it all in reverse order. main.ts and the simulator both use it.
import type { FastifyInstance } from 'fastify'
import pino, { type Logger } from 'pino'
import { startHubBackup, walSpool, type HubBackup } from '../db/backup/hub-backup.ts'
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
  let backup: HubBackup | undefined
  let databaseUrl = config.databaseUrl
  if (databaseUrl === undefined) {
    const archive = config.backupArchive ? { spool: walSpool(config), timeoutS: config.backupArchiveTimeoutS } : undefined
    embedded = await startEmbeddedPostgres({ dataDir: config.dataDir, log: logger, archive })
    databaseUrl = embedded.url
  }
  // WAL archiving stops after the database, so the segments it archives while stopping are moved too.
  const stopBackup = async () => {
    await backup?.archiver?.flush().catch(err => logger.error({ err }, 'WAL archiving: segments left in the spool at shutdown'))
    await backup?.archiver?.stop()
  }
  let app: FastifyInstance | undefined
  try {
    if (embedded !== undefined) backup = startHubBackup(config, embedded, logger)
    await migrate(databaseUrl, { log: logger })
    app = await buildHub({ config: { ...config, databaseUrl }, logger, backup })
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
        await stopBackup()
      }
    }
  } catch (err) {
    await app?.close().catch(() => {})
    await embedded?.stop().catch(() => {})
    await stopBackup().catch(() => {})
    throw err
  }
}
