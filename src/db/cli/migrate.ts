// `npm run db:migrate [-- --down | --rolled-back NAME]`: applies pending migrations to
// DATABASE_URL (or the embedded database under HUB_DATA_DIR), reverts the latest one, or
// marks a failed one rolled back so that it is applied again.
import { parseArgs } from 'node:util'
import pino from 'pino'
import { loadConfig } from '../../hub/config.ts'
import { startEmbeddedPostgres } from '../embedded-postgres.ts'
import { markRolledBack, migrate, migrateDown } from '../migrator.ts'

const { values } = parseArgs({ options: { down: { type: 'boolean' }, 'rolled-back': { type: 'string' } } })
const config = loadConfig(process.env)
const log = pino({ level: config.logLevel, name: 'db:migrate' })
const embedded = config.databaseUrl === undefined ? await startEmbeddedPostgres({ dataDir: config.dataDir, log }) : undefined
const url = config.databaseUrl ?? (embedded as { url: string }).url
try {
  if (values.down === true) {
    log.info({ migration: await migrateDown(url, { log }) }, 'reverted')
  } else if (values['rolled-back'] !== undefined) {
    await markRolledBack(url, values['rolled-back'])
    log.info({ migration: values['rolled-back'] }, 'marked rolled back')
  } else {
    const applied = await migrate(url, { log })
    log.info({ applied: applied.length }, applied.length === 0 ? 'database is up to date' : 'migrations applied')
  }
} catch (err) {
  log.error(err instanceof Error ? err.message : String(err))
  process.exitCode = 1
} finally {
  await embedded?.stop()
}
