// The agent's configuration: one TypeBox schema, the type derived from it, and a pure loader from
// an environment-shaped record (main.ts passes process.env; tests pass plain objects). Every bad
// key is reported at once, by its variable name, as the hub's config does.
import os from 'node:os'
import path from 'node:path'
import Type, { type Static } from 'typebox'
import { Compile } from 'typebox/compile'
import Value from 'typebox/value'
import { TokenFileError, readTokenFile } from './token-file.ts'

const Int = (def: number, min: number, max: number) => Type.Integer({ default: def, minimum: min, maximum: max })

export const AgentConfigSchema = Type.Object({
  /** One or more ws(s):// URLs of the hub's agent endpoint, comma-separated, tried in turn (a bare `ws://host:port` gets `/agent/v1`). */
  hubUrls: Type.Array(Type.String({ pattern: '^wss?://[^\\s,]+$' }), { minItems: 1, maxItems: 16 }),
  token: Type.String({ minLength: 16 }),
  dataDir: Type.String({ minLength: 1 }),
  /** As root, games run as this system user (created if missing). */
  gameUser: Type.String({ default: 'gamepanel', pattern: '^[a-z_][a-z0-9_-]{0,31}$' }),
  /** A cgroup v2 directory the agent may manage for memory limits; unset: the default, if usable. */
  cgroupRoot: Type.Optional(Type.String({ pattern: '^/' })),
  logLevel: Type.Enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { default: 'info' }),
  maxLogBytes: Int(8 * 1024 * 1024, 65_536, 1024 * 1024 * 1024),
  statsIntervalMs: Int(1_000, 100, 60_000),
  diskIntervalMs: Int(60_000, 1_000, 86_400_000),
  killAfterTermMs: Int(10_000, 100, 600_000)
})

export type AgentConfig = Static<typeof AgentConfigSchema>

export const AGENT_ENV_KEYS: Record<keyof AgentConfig, string> = {
  hubUrls: 'AGENT_HUB_URL',
  token: 'AGENT_TOKEN',
  dataDir: 'AGENT_DATA_DIR',
  gameUser: 'AGENT_GAME_USER',
  cgroupRoot: 'AGENT_CGROUP_ROOT',
  logLevel: 'LOG_LEVEL',
  maxLogBytes: 'AGENT_MAX_LOG_BYTES',
  statsIntervalMs: 'AGENT_STATS_INTERVAL_MS',
  diskIntervalMs: 'AGENT_DISK_INTERVAL_MS',
  killAfterTermMs: 'AGENT_KILL_AFTER_TERM_MS'
}

const SECRET_KEYS = new Set<string>(['token'])
const validator = Compile(AgentConfigSchema)

export class AgentConfigError extends Error {
  readonly problems: string[]
  constructor (problems: string[]) {
    super(`invalid agent configuration:\n  ${problems.join('\n  ')}`)
    this.name = 'AgentConfigError'
    this.problems = problems
  }
}

/** Where state lives by default: /var/lib as root, the XDG state folder otherwise. */
export function defaultDataDir (env: Record<string, string | undefined>, uid: number): string {
  if (uid === 0) return '/var/lib/game-panel-agent'
  const state = env.XDG_STATE_HOME
  const base = state !== undefined && path.isAbsolute(state) ? state : path.join(env.HOME ?? os.homedir(), '.local', 'state')
  return path.join(base, 'game-panel-agent')
}

/**
 * `ws://host:port` (no path) means the hub's agent endpoint, `ws://host:port/agent/v1`: a user
 * who gives the hub's base address must not get an agent that retries a 404 for ever.
 */
export function withAgentPath (url: string): string {
  const match = /^(wss?:\/\/[^/\s?#]+)\/?$/.exec(url)
  return match === null ? url : `${match[1] as string}/agent/v1`
}

/** The token from a file instead of AGENT_TOKEN (recommended: see token-file.ts and docs/agent.md). */
export const TOKEN_FILE_KEY = 'AGENT_TOKEN_FILE'

export function loadAgentConfig (env: Record<string, string | undefined>, uid = process.getuid?.() ?? 1000,
  readToken: (file: string, uid: number) => string = readTokenFile): AgentConfig {
  const raw: Record<string, unknown> = {}
  for (const [key, name] of Object.entries(AGENT_ENV_KEYS)) {
    const value = env[name]
    if (value !== undefined && value !== '') raw[key] = value
  }
  const problems: string[] = []
  const tokenFile = env[TOKEN_FILE_KEY]
  if (tokenFile !== undefined && tokenFile !== '') {
    if (raw.token !== undefined) problems.push(`${TOKEN_FILE_KEY}: AGENT_TOKEN is set too; give the token one way only`)
    else if (!path.isAbsolute(tokenFile)) problems.push(`${TOKEN_FILE_KEY}: must be an absolute path (got ${JSON.stringify(tokenFile)})`)
    else {
      try {
        raw.token = readToken(tokenFile, uid)
      } catch (err) {
        if (!(err instanceof TokenFileError)) throw err
        problems.push(err.message)
      }
    }
  }
  const tokenName = tokenFile !== undefined && tokenFile !== '' && env.AGENT_TOKEN === undefined ? TOKEN_FILE_KEY : AGENT_ENV_KEYS.token
  if (typeof raw.hubUrls === 'string') raw.hubUrls = raw.hubUrls.split(',').map((u) => withAgentPath(u.trim())).filter((u) => u !== '')
  raw.dataDir ??= defaultDataDir(env, uid)
  const candidate = Value.Convert(AgentConfigSchema, Value.Default(AgentConfigSchema, raw))
  for (const error of validator.Errors(candidate)) {
    if (error.keyword === 'required') {
      for (const key of error.params.requiredProperties) {
        // A token file that could not be read was reported above.
        if (key === 'token' && tokenName === TOKEN_FILE_KEY) continue
        problems.push(key === 'token' ? `AGENT_TOKEN: required (or ${TOKEN_FILE_KEY}, a file holding it)` : `${AGENT_ENV_KEYS[key as keyof AgentConfig] ?? key}: required`)
      }
      continue
    }
    const key = error.instancePath.split('/')[1] as keyof AgentConfig | undefined
    const name = key === undefined ? '(config)' : key === 'token' ? tokenName : AGENT_ENV_KEYS[key]
    const given = key === undefined || SECRET_KEYS.has(key) ? undefined : env[name]
    problems.push(`${name}: ${error.message}${given === undefined ? '' : ` (got ${JSON.stringify(given)})`}`)
  }
  if (problems.length > 0) throw new AgentConfigError([...new Set(problems)])
  return candidate as AgentConfig
}
