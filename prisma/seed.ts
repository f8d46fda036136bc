// `npm run db:seed` (and Prisma's `migrations.seed`): seeds DATABASE_URL or the embedded
// database for NODE_ENV. The logic lives in src/db/seed.ts; the hub runs it on every start.
import pino from 'pino'
import { createDatabase } from '../src/db/database.ts'
import { startEmbeddedPostgres } from '../src/db/embedded-postgres.ts'
import { migrate } from '../src/db/migrator.ts'
import { seed } from '../src/db/seed.ts'
import { loadConfig } from '../src/hub/config.ts'

const config = loadConfig(process.env)
const log = pino({ level: config.logLevel, name: 'db:seed' })
const embedded = config.databaseUrl === undefined ? await startEmbeddedPostgres({ dataDir: config.dataDir, log }) : undefined
const url = config.databaseUrl ?? (embedded as { url: string }).url
const db = createDatabase({ url, poolMax: 2, connectTimeoutMs: config.dbConnectTimeoutMs, idleTimeoutMs: 1_000, statementTimeoutMs: config.dbStatementTimeoutMs, log })
try {
  await migrate(url, { log })
  const { generatedAdminPassword } = await seed(db.prisma, { env: config.env, adminPassword: config.adminPassword })
  if (generatedAdminPassword !== undefined) process.stdout.write(`admin password (generated, shown once): ${generatedAdminPassword}\n`)
  log.info({ env: config.env }, 'seeded')
} catch (err) {
  log.error(err instanceof Error ? err.message : String(err))
  process.exitCode = 1
} finally {
  await db.close()
  await embedded?.stop()
}
