// The hub's configuration: one TypeBox schema, the type derived from it, and a pure
// loader from an environment-shaped record. main.ts is the only caller that passes
// process.env; tests pass plain objects.
import Type, { type Static } from 'typebox'
import { Compile } from 'typebox/compile'
import Value from 'typebox/value'
import { parseRetention } from '../db/backup/retention.ts'
import { parseKeyring } from '../db/backup/keys.ts'
import { linkAddress } from './console/hub-links.ts'

const Int = (def: number, min: number, max: number) => Type.Integer({ default: def, minimum: min, maximum: max })

export const ConfigSchema = Type.Object({
  databaseUrl: Type.Optional(Type.String({ pattern: '^postgres(ql)?://' })),
  host: Type.String({ default: '127.0.0.1', minLength: 1 }),
  port: Int(8080, 0, 65535),
  dataDir: Type.String({ default: './.data', minLength: 1 }),
  adminPassword: Type.Optional(Type.String({ minLength: 8 })),
  heartbeatMs: Int(10_000, 100, 600_000),
  env: Type.Enum(['development', 'production', 'test'], { default: 'development' }),
  sessionTtlS: Int(86_400, 60, 31_536_000),
  logLevel: Type.Enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { default: 'info' }),
  dbPoolMax: Int(10, 1, 500),
  dbConnectTimeoutMs: Int(5_000, 100, 120_000),
  dbIdleTimeoutMs: Int(10_000, 0, 3_600_000),
  dbStatementTimeoutMs: Int(15_000, 0, 3_600_000),
  loginMaxAttempts: Int(10, 1, 10_000),
  loginWindowMs: Int(60_000, 1_000, 3_600_000),
  /** Password checks running at once (off the event loop), and how many more may wait; beyond, 503. */
  loginHashConcurrency: Int(2, 1, 256),
  loginHashQueue: Int(64, 0, 100_000),
  /** Power actions per second and burst, per user and per server (token buckets, per hub). */
  actionUserRate: Int(5_000, 1, 1_000_000),
  actionUserBurst: Int(10_000, 1, 1_000_000),
  actionServerRate: Int(2, 1, 1_000_000),
  actionServerBurst: Int(10, 1, 1_000_000),
  actionCommandUserRate: Int(20, 1, 1_000_000),
  actionCommandUserBurst: Int(60, 1, 1_000_000),
  actionCommandServerRate: Int(10, 1, 1_000_000),
  actionCommandServerBurst: Int(30, 1, 1_000_000),
  /** Proxies (addresses or CIDRs, comma-separated) whose X-Forwarded-For is believed; empty: none. */
  trustProxy: Type.String({ default: '', maxLength: 4_096 }),
  metricsToken: Type.Optional(Type.String({ minLength: 16 })),
  shutdownTimeoutMs: Int(10_000, 100, 120_000),
  maxFrameBytes: Int(65_536, 1_024, 16_777_216),
  helloTimeoutMs: Int(10_000, 100, 600_000),
  agentRatePerSecond: Int(500, 1, 1_000_000),
  agentBurst: Int(2_000, 1, 1_000_000),
  /** JSON key set `{ keys: [{ kid, privateJwk }] }` shared by a farm of hubs; generated under dataDir when unset. */
  agentKeys: Type.Optional(Type.String({ minLength: 2 })),
  issuer: Type.String({ default: 'hub', minLength: 1 }),
  /** Events are kept while younger than this or among the newest eventRetentionCount. */
  eventRetentionMs: Int(600_000, 60_000, 604_800_000),
  eventRetentionCount: Int(100_000, 1_000, 100_000_000),
  /** pg-boss's own schema, apart from the Prisma tables. */
  queueSchema: Type.String({ default: 'pgboss', pattern: '^[a-z_][a-z0-9_]{0,62}$' }),
  /** Power actions: time to reach the agent (sent as `expiresAt`), then to be acked, then to finish. */
  actionDeliverTimeoutMs: Int(60_000, 100, 86_400_000),
  actionAckTimeoutMs: Int(30_000, 100, 3_600_000),
  actionRunTimeoutMs: Int(120_000, 100, 86_400_000),
  actionInstallTimeoutMs: Int(1_800_000, 100, 86_400_000),
  /** Panel frames per second per connection (token bucket) and its burst. */
  panelRatePerSecond: Int(20, 1, 1_000_000),
  panelBurst: Int(100, 1, 1_000_000),
  /** Bytes a panel socket may have buffered before its events are coalesced. */
  panelHighWaterBytes: Int(1_048_576, 16_384, 268_435_456),
  /** A panel socket over the high-water mark this long is closed (1008). */
  panelMaxStallMs: Int(30_000, 100, 3_600_000),
  /** HTTP server timeouts (src/hub/http-server.ts); an upgraded WebSocket is exempt from all four. */
  httpRequestTimeoutMs: Int(30_000, 100, 3_600_000),
  httpHeadersTimeoutMs: Int(10_000, 100, 3_600_000),
  httpConnectionTimeoutMs: Int(60_000, 100, 3_600_000),
  httpKeepAliveTimeoutMs: Int(72_000, 100, 3_600_000),
  /** listen() backlog; the kernel's cap (net.core.somaxconn) when unset (src/hub/listen-backlog.ts). */
  listenBacklog: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_048_576 })),
  /** Retention (src/hub/plugins/retention.ts): rows past these ages are pruned by scheduled pg-boss jobs. */
  sessionRetentionDays: Int(30, 0, 36_500),
  ticketRetentionS: Int(60, 0, 86_400),
  transitionRetentionDays: Int(30, 1, 36_500),
  actionRetentionDays: Int(90, 1, 36_500),
  /** When the prunes run (cron, UTC; at most once a minute), once per period across all hubs. */
  pruneCron: Type.String({ default: '* * * * *', minLength: 9 }),
  /** When the hub that owns the embedded cluster takes a base backup (cron, UTC; src/hub/plugins/backups.ts). */
  backupSchedule: Type.String({ default: '0 3 * * *', pattern: '^\\S+( \\S+){4,5}$' }),
  /** Which base backups to keep: newest of each of the last N days (d), weeks (w), months (m) (src/db/backup/retention.ts). */
  backupRetention: Type.String({ default: '7d,4w', minLength: 2 }),
  /** How often each hub's pg-boss checks the schedules (cronMonitorIntervalSeconds). */
  queueCronCheckS: Int(30, 1, 45),
  /** Bytes a panel socket may have buffered, every frame counted (snapshots too); beyond: close 1008. */
  panelMaxBufferedBytes: Int(8_388_608, 65_536, 1_073_741_824),
  /** Bytes an agent socket may have buffered (unread acks, commands); beyond: close 1008. */
  agentMaxBufferedBytes: Int(1_048_576, 4_096, 1_073_741_824),
  /** Panel sockets open at once per session and per client address; beyond: 429 before the upgrade. */
  panelMaxSocketsPerSession: Int(2_000, 1, 1_000_000),
  panelMaxSocketsPerAddress: Int(5_000, 1, 1_000_000),
  /** The URL people and agents are told to use (the panel, the agent line); the listen address when unset. */
  publicUrl: Type.Optional(Type.String({ pattern: '^https?://[^\\s/?#]+(/[^\\s?#]*)?$' })),
  /** Backups of the embedded cluster (src/db/backup/): where, the encryption keys, the copy elsewhere, WAL archiving. */
  backupDir: Type.Optional(Type.String({ minLength: 1 })),
  backupKey: Type.Optional(Type.String({ minLength: 1 })),
  backupOldKeys: Type.Optional(Type.String({ minLength: 1 })),
  backupCopyDir: Type.Optional(Type.String({ minLength: 1 })),
  backupArchive: Type.Boolean({ default: true }),
  backupArchiveTimeoutS: Int(60, 1, 86_400),
  /** Where other hubs reach this one for console links (ws:// or wss://), or `off`; unset: the listening address. */
  linkUrl: Type.Optional(Type.String({ minLength: 1, maxLength: 256 }))
})

export type Config = Static<typeof ConfigSchema>

/** Environment variable behind each config key; README.md lists them. */
export const ENV_KEYS: Record<keyof Config, string> = {
  databaseUrl: 'DATABASE_URL',
  host: 'HUB_HOST',
  port: 'HUB_PORT',
  dataDir: 'HUB_DATA_DIR',
  adminPassword: 'HUB_ADMIN_PASSWORD',
  heartbeatMs: 'HUB_HEARTBEAT_MS',
  env: 'NODE_ENV',
  sessionTtlS: 'HUB_SESSION_TTL_S',
  logLevel: 'LOG_LEVEL',
  dbPoolMax: 'HUB_DB_POOL_MAX',
  dbConnectTimeoutMs: 'HUB_DB_CONNECT_TIMEOUT_MS',
  dbIdleTimeoutMs: 'HUB_DB_IDLE_TIMEOUT_MS',
  dbStatementTimeoutMs: 'HUB_DB_STATEMENT_TIMEOUT_MS',
  loginMaxAttempts: 'HUB_LOGIN_MAX_ATTEMPTS',
  loginWindowMs: 'HUB_LOGIN_WINDOW_MS',
  loginHashConcurrency: 'HUB_LOGIN_HASH_CONCURRENCY',
  loginHashQueue: 'HUB_LOGIN_HASH_QUEUE',
  actionUserRate: 'HUB_ACTION_USER_RATE',
  actionUserBurst: 'HUB_ACTION_USER_BURST',
  actionServerRate: 'HUB_ACTION_SERVER_RATE',
  actionServerBurst: 'HUB_ACTION_SERVER_BURST',
  actionCommandUserRate: 'HUB_ACTION_COMMAND_USER_RATE',
  actionCommandUserBurst: 'HUB_ACTION_COMMAND_USER_BURST',
  actionCommandServerRate: 'HUB_ACTION_COMMAND_SERVER_RATE',
  actionCommandServerBurst: 'HUB_ACTION_COMMAND_SERVER_BURST',
  trustProxy: 'HUB_TRUST_PROXY',
  metricsToken: 'HUB_METRICS_TOKEN',
  shutdownTimeoutMs: 'HUB_SHUTDOWN_TIMEOUT_MS',
  maxFrameBytes: 'HUB_MAX_FRAME_BYTES',
  helloTimeoutMs: 'HUB_HELLO_TIMEOUT_MS',
  agentRatePerSecond: 'HUB_AGENT_RATE',
  agentBurst: 'HUB_AGENT_BURST',
  agentKeys: 'HUB_AGENT_KEYS',
  issuer: 'HUB_ISSUER',
  eventRetentionMs: 'HUB_EVENT_RETENTION_MS',
  eventRetentionCount: 'HUB_EVENT_RETENTION_COUNT',
  queueSchema: 'HUB_QUEUE_SCHEMA',
  actionDeliverTimeoutMs: 'HUB_ACTION_DELIVER_TIMEOUT_MS',
  actionAckTimeoutMs: 'HUB_ACTION_ACK_TIMEOUT_MS',
  actionRunTimeoutMs: 'HUB_ACTION_RUN_TIMEOUT_MS',
  actionInstallTimeoutMs: 'HUB_ACTION_INSTALL_TIMEOUT_MS',
  panelRatePerSecond: 'HUB_PANEL_RATE',
  panelBurst: 'HUB_PANEL_BURST',
  panelHighWaterBytes: 'HUB_PANEL_HIGH_WATER_BYTES',
  panelMaxStallMs: 'HUB_PANEL_MAX_STALL_MS',
  httpRequestTimeoutMs: 'HUB_HTTP_REQUEST_TIMEOUT_MS',
  httpHeadersTimeoutMs: 'HUB_HTTP_HEADERS_TIMEOUT_MS',
  httpConnectionTimeoutMs: 'HUB_HTTP_CONNECTION_TIMEOUT_MS',
  httpKeepAliveTimeoutMs: 'HUB_HTTP_KEEP_ALIVE_TIMEOUT_MS',
  listenBacklog: 'HUB_LISTEN_BACKLOG',
  sessionRetentionDays: 'HUB_SESSION_RETENTION_DAYS',
  ticketRetentionS: 'HUB_TICKET_RETENTION_S',
  transitionRetentionDays: 'HUB_TRANSITION_RETENTION_DAYS',
  actionRetentionDays: 'HUB_ACTION_RETENTION_DAYS',
  pruneCron: 'HUB_PRUNE_CRON',
  backupSchedule: 'HUB_BACKUP_SCHEDULE',
  backupRetention: 'HUB_BACKUP_RETENTION',
  queueCronCheckS: 'HUB_QUEUE_CRON_CHECK_S',
  panelMaxBufferedBytes: 'HUB_PANEL_MAX_BUFFERED_BYTES',
  agentMaxBufferedBytes: 'HUB_AGENT_MAX_BUFFERED_BYTES',
  panelMaxSocketsPerSession: 'HUB_PANEL_MAX_SOCKETS_PER_SESSION',
  panelMaxSocketsPerAddress: 'HUB_PANEL_MAX_SOCKETS_PER_ADDRESS',
  publicUrl: 'HUB_PUBLIC_URL',
  backupDir: 'HUB_BACKUP_DIR',
  backupKey: 'HUB_BACKUP_KEY',
  backupOldKeys: 'HUB_BACKUP_OLD_KEYS',
  backupCopyDir: 'HUB_BACKUP_COPY_DIR',
  backupArchive: 'HUB_BACKUP_ARCHIVE',
  backupArchiveTimeoutS: 'HUB_BACKUP_ARCHIVE_TIMEOUT_S',
  linkUrl: 'HUB_LINK_URL'
}

/** Values that must never be echoed back in an error message. */
const SECRET_KEYS = new Set<string>(['databaseUrl', 'adminPassword', 'metricsToken', 'agentKeys', 'backupKey', 'backupOldKeys'])

const validator = Compile(ConfigSchema)

export class ConfigError extends Error {
  readonly problems: string[]
  constructor (problems: string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`)
    this.name = 'ConfigError'
    this.problems = problems
  }
}

/**
 * Builds a Config from environment variables. Empty strings count as unset. Every bad
 * key is reported at once, by its variable name, in a ConfigError.
 */
export function loadConfig (env: Record<string, string | undefined>): Config {
  const raw: Record<string, unknown> = {}
  for (const [key, name] of Object.entries(ENV_KEYS)) {
    const value = env[name]
    if (value !== undefined && value !== '') raw[key] = value
  }
  const candidate = Value.Convert(ConfigSchema, Value.Default(ConfigSchema, raw))
  const problems: string[] = []
  for (const error of validator.Errors(candidate)) {
    const key = error.instancePath.split('/')[1] as keyof Config | undefined
    const name = key === undefined ? '(config)' : ENV_KEYS[key]
    const given = key === undefined || SECRET_KEYS.has(key) ? undefined : env[name]
    problems.push(`${name}: ${error.message}${given === undefined ? '' : ` (got ${JSON.stringify(given)})`}`)
  }
  const config = candidate as Config
  if (config.agentKeys !== undefined && !isKeySet(config.agentKeys)) {
    problems.push('HUB_AGENT_KEYS: must be JSON {"keys":[{"kid":"...","privateJwk":{...}}]} with at least one key')
  }
  if (typeof config.backupRetention === 'string') {
    try {
      parseRetention(config.backupRetention)
    } catch (err) {
      problems.push(`HUB_BACKUP_RETENTION: ${(err as Error).message} (got ${JSON.stringify(config.backupRetention)})`)
    }
  }
  try {
    parseKeyring(config.backupKey, config.backupOldKeys)
  } catch (err) {
    problems.push((err as Error).message)
  }
  if (config.linkUrl !== undefined && config.linkUrl !== 'off' && linkAddress(config.linkUrl) === undefined) {
    problems.push(`HUB_LINK_URL: must be off, or ws:// or wss:// with a host and port only, like ws://10.0.0.5:8080 (got ${JSON.stringify(config.linkUrl)})`)
  }
  if (problems.length === 0 && config.httpHeadersTimeoutMs > config.httpRequestTimeoutMs) {
    problems.push('HUB_HTTP_HEADERS_TIMEOUT_MS: must not exceed HUB_HTTP_REQUEST_TIMEOUT_MS (the headers are part of the request)')
  }
  if (problems.length === 0 && config.env === 'production' && config.adminPassword === undefined) {
    problems.push('HUB_ADMIN_PASSWORD: required when NODE_ENV=production')
  }
  if (problems.length > 0) throw new ConfigError([...new Set(problems)])
  return config
}

function isKeySet (text: string): boolean {
  try {
    const parsed = JSON.parse(text) as { keys?: Array<{ kid?: unknown, privateJwk?: unknown }> }
    return Array.isArray(parsed.keys) && parsed.keys.length > 0 &&
      parsed.keys.every(k => typeof k.kid === 'string' && typeof k.privateJwk === 'object' && k.privateJwk !== null)
  } catch {
    return false
  }
}
