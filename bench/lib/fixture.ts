// The benchmarks' world: an embedded PostgreSQL in a temp folder, migrated and seeded, with
// nodes and servers inserted directly (thousands in one statement each) and agent tokens minted
// with the hub's own token API, from a key set the hub process is given too.
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import pg from 'pg'
import { createDatabase } from '../../src/db/database.ts'
import { startEmbeddedPostgres } from '../../src/db/embedded-postgres.ts'
import { migrate } from '../../src/db/migrator.ts'
import { seed } from '../../src/db/seed.ts'
import { createAgentTokens, generateKeySet } from '../../src/hub/agent-tokens.ts'

export const ISSUER = 'hub'
/** The admin's password: seeded here, and the bench hubs' HUB_ADMIN_PASSWORD. */
export const ADMIN_PASSWORD = 'bench-admin-password'

/** A hub's HTTP base URL from the agent URL it reports (ws://host:port/agent/v1). */
export const httpOf = (agentUrl: string): string => agentUrl.replace(/^ws/, 'http').replace(/\/agent\/v1$/, '')

/** A session token of `admin`, logged in at the hub at `httpUrl`. */
export async function adminToken (httpUrl: string, password = ADMIN_PASSWORD): Promise<string> {
  const login = await fetch(`${httpUrl}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password }) })
  if (login.status !== 201) throw new Error(`login: HTTP ${login.status}`)
  return ((await login.json()) as { token: string }).token
}

export interface BenchAgent { nodeId: string, token: string, servers: string[] }

export interface Fixture {
  databaseUrl: string
  dataDir: string
  /** HUB_AGENT_KEYS for the hub process, so it accepts the minted tokens. */
  agentKeys: string
  postmasterPid: number
  agents: BenchAgent[]
  close (): Promise<void>
}

const silent = { info () {}, warn () {} }

export async function createFixture (nodes: number, serversPerNode: number): Promise<Fixture> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'hub-bench-'))
  await chmod(dataDir, 0o755) // as root, PostgreSQL runs as `postgres` and must enter it
  const cluster = await startEmbeddedPostgres({ dataDir, log: silent })
  try {
    await migrate(cluster.url)
    const db = createDatabase({ url: cluster.url, poolMax: 2, connectTimeoutMs: 5_000, idleTimeoutMs: 1_000, statementTimeoutMs: 0, log: silent })
    await seed(db.prisma, { env: 'test', adminPassword: ADMIN_PASSWORD })
    await db.close()

    const client = new pg.Client({ connectionString: cluster.url })
    await client.connect()
    const { rows: [ref] } = await client.query<{ alt: string, owner: string }>(
      "SELECT (SELECT id FROM alts ORDER BY created_at LIMIT 1) AS alt, (SELECT id FROM users WHERE username = 'admin') AS owner")
    await client.query("INSERT INTO nodes (name, updated_at) SELECT 'bench-' || i, now() FROM generate_series(1, $1::int) i", [nodes])
    await client.query(`INSERT INTO servers (name, port, node_id, alt_id, owner_id, updated_at)
      SELECT n.name || '-' || j, 27000 + j, n.id, $1, $2, now() FROM nodes n, generate_series(0, $3::int - 1) j WHERE n.name LIKE 'bench-%'`,
    [ref?.alt, ref?.owner, serversPerNode])
    const { rows } = await client.query<{ id: string, token_version: number, servers: string[] | null }>(
      `SELECT n.id, n.token_version, array_agg(s.id ORDER BY s.port) FILTER (WHERE s.id IS NOT NULL) AS servers
         FROM nodes n LEFT JOIN servers s ON s.node_id = n.id WHERE n.name LIKE 'bench-%' GROUP BY n.id ORDER BY n.id`)
    await client.end()

    const keySet = await generateKeySet()
    const tokens = await createAgentTokens(keySet, ISSUER)
    const agents = await Promise.all(rows.map(async r => ({
      nodeId: r.id, servers: r.servers ?? [], token: await tokens.issue({ nodeId: r.id, version: r.token_version })
    })))
    const postmasterPid = Number((await readFile(path.join(dataDir, 'postgres', 'postmaster.pid'), 'utf8')).split('\n')[0])
    return {
      databaseUrl: cluster.url,
      dataDir,
      agentKeys: JSON.stringify(keySet),
      postmasterPid,
      agents,
      async close () {
        await cluster.stop()
        await rm(dataDir, { recursive: true, force: true })
      }
    }
  } catch (err) {
    await cluster.stop().catch(() => {})
    await rm(dataDir, { recursive: true, force: true })
    throw err
  }
}

/** Splits `items` into `n` nearly equal slices. */
export function split<T> (items: T[], n: number): T[][] {
  return Array.from({ length: n }, (_, i) => items.filter((_, j) => j % n === i))
}
