// The hub's one connection pool and the Prisma client over it (@prisma/adapter-pg).
// Raw SQL (src/db/sql) and Prisma share the pool, so its bound is the hub's bound on
// PostgreSQL connections. A pg pool drops a broken connection and dials a new one on the
// next checkout, so after PostgreSQL restarts the next queries succeed without a hub restart.
import { createHash } from 'node:crypto'
import { PrismaPg } from '@prisma/adapter-pg'
import pg from 'pg'
import { PrismaClient } from './generated/client.ts'

export interface DatabaseOptions {
  url: string
  poolMax: number
  connectTimeoutMs: number
  idleTimeoutMs: number
  statementTimeoutMs: number
  log: { warn (obj: object, msg: string): void }
}

export interface Database {
  readonly pool: pg.Pool
  readonly prisma: PrismaClient
  /** A new connection outside the pool, for LISTEN (a pooled one would be lent to queries). */
  dedicatedClient (applicationName: string): pg.Client
  /** True when a query round-trips within `timeoutMs`. Never throws. */
  ready (timeoutMs?: number): Promise<boolean>
  close (): Promise<void>
}

/**
 * Prisma prepares each distinct SQL text once per connection under a stable name: prepared
 * statements nearly double throughput against pg's default unnamed ones (ENVIRONMENT.md).
 */
const statementName = ({ sql }: { sql: string }): string =>
  'prisma_' + createHash('sha1').update(sql).digest('base64url').slice(0, 20)

export function createDatabase (options: DatabaseOptions): Database {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolMax,
    connectionTimeoutMillis: options.connectTimeoutMs,
    idleTimeoutMillis: options.idleTimeoutMs,
    statement_timeout: options.statementTimeoutMs === 0 ? undefined : options.statementTimeoutMs,
    // A client-side bound too: a statement timeout cannot fire while the server is unreachable.
    query_timeout: options.statementTimeoutMs === 0 ? undefined : options.statementTimeoutMs + 1_000,
    application_name: 'hub'
  })
  // Without a listener, an idle connection killed by a PostgreSQL restart crashes the process.
  pool.on('error', err => options.log.warn({ err }, 'idle database connection lost'))
  const prisma = new PrismaClient({
    adapter: new PrismaPg(pool, { statementNameGenerator: statementName })
  })
  let closing: Promise<void> | undefined

  return {
    pool,
    prisma,
    dedicatedClient: applicationName => new pg.Client({
      connectionString: options.url,
      connectionTimeoutMillis: options.connectTimeoutMs,
      keepAlive: true,
      application_name: applicationName
    }),
    async ready (timeoutMs = 2_000) {
      let timer: NodeJS.Timeout | undefined
      const timeout = new Promise<false>(resolve => { timer = setTimeout(resolve, timeoutMs, false) })
      try {
        return await Promise.race([pool.query('SELECT 1').then(() => true, () => false), timeout])
      } finally {
        clearTimeout(timer)
      }
    },
    async close () {
      closing ??= (async () => {
        await prisma.$disconnect()
        await pool.end()
      })()
      await closing
    }
  }
}
