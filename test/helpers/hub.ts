// Starts a real hub (buildHub, real PostgreSQL database of its own, port 0) for one test and
// tears it down with the test. Requests go through real sockets with fetch.
import type { FastifyInstance } from 'fastify'
import { loadConfig, type Config } from '../../src/hub/config.ts'
import { buildHub } from '../../src/hub/build-hub.ts'
import { seed } from '../../src/db/seed.ts'
import { createAgentTokens, generateKeySet, type AgentTokens } from '../../src/hub/agent-tokens.ts'
import { createTestDatabase } from './database.ts'

// One signing key set for the whole test file: generating keys per hub would only cost time.
let agentTokens: Promise<AgentTokens> | undefined
let keySet: ReturnType<typeof generateKeySet> | undefined
/** That key set itself, for a hub run as a child process (HUB_AGENT_KEYS) beside the test hubs. */
export const testKeySet = async () => await (keySet ??= generateKeySet())
const tokens = async () => await (agentTokens ??= testKeySet().then(async keys => await createAgentTokens(keys, 'hub')))
/** The key set every test hub of this file signs agent tokens with (for a second hub on the same database). */
export const testAgentTokens = tokens

export const ADMIN_PASSWORD = 'admin-password-for-tests'

export interface TestHub {
  app: FastifyInstance
  url: string
  databaseUrl: string
  /** fetch against the hub; `token` becomes a bearer header, `body` is sent as JSON. */
  request (method: string, path: string, options?: { token?: string, body?: unknown, headers?: Record<string, string> }): Promise<{ status: number, body: any, headers: Headers }>
  login (username: string, password: string): Promise<string>
  adminToken (): Promise<string>
}

interface Tap { teardown (fn: () => unknown): void }

/** `options.databaseUrl`: share another test hub's database (several hubs, one PostgreSQL). */
export async function startTestHub (t: Tap, overrides: Partial<Config> = {}, options: { now?: () => Date, env?: Config['env'], databaseUrl?: string } = {}): Promise<TestHub> {
  const databaseUrl = options.databaseUrl ?? (await createTestDatabase(t)).url
  const config = { ...loadConfig({ NODE_ENV: options.env ?? 'test', LOG_LEVEL: 'silent' }), databaseUrl, dbPoolMax: 4, ...overrides }
  const app = await buildHub({ config, now: options.now, agentTokens: await tokens() })
  t.teardown(() => app.close())
  await seed(app.db.prisma, { env: config.env, adminPassword: ADMIN_PASSWORD })
  const url = await app.listen({ host: '127.0.0.1', port: 0 })

  const request: TestHub['request'] = async (method, path, { token, body, headers = {} } = {}) => {
    const res = await fetch(url + path, {
      method,
      headers: {
        ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(10_000)
    })
    const text = await res.text()
    const answer = { status: res.status, body: text === '' ? undefined : res.headers.get('content-type')?.includes('json') === true ? JSON.parse(text) : text }
    // Not enumerable, so tests that compare whole answers (t.same) still compare status and body only.
    return Object.defineProperty(answer, 'headers', { value: res.headers, enumerable: false }) as typeof answer & { headers: Headers }
  }
  const login = async (username: string, password: string) => {
    const res = await request('POST', '/api/auth/login', { body: { username, password } })
    if (res.status !== 201) throw new Error(`login of ${username} failed: ${res.status} ${JSON.stringify(res.body)}`)
    return res.body.token as string
  }
  let admin: string | undefined
  return { app, url, databaseUrl, request, login, adminToken: async () => (admin ??= await login('admin', ADMIN_PASSWORD)) }
}
