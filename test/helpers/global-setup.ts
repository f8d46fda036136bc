// tap's "before" script (.taprc): runs once, in its own process, before any test file.
// It provides a server (DATABASE_URL's, or an embedded cluster of our own) holding the template
// database `hub_test_template` with every migration applied, so that each test file clones a
// ready schema in milliseconds (database.ts) instead of migrating its own.
import { chmod, mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { startEmbeddedPostgres } from '../../src/db/embedded-postgres.ts'
import { migrate } from '../../src/db/migrator.ts'
import {
  TEMPLATE_DATABASE, databaseUrl, dropDatabase, orphanedStates, removeClusterState, stopEmbeddedCluster,
  withClient, writeClusterState
} from './cluster.ts'
import type { ClusterState } from './cluster.ts'

/** A run killed before its teardown (Ctrl-C, crash) leaves its embedded cluster running: reclaim it. */
async function reclaimOrphans (): Promise<void> {
  for (const { file, state } of await orphanedStates()) {
    if (state.embeddedDir !== undefined) await stopEmbeddedCluster(state.embeddedDir)
    await removeClusterState(file)
  }
}

async function startCluster (): Promise<ClusterState> {
  const url = process.env.DATABASE_URL
  if (url !== undefined && url !== '') {
    return { adminUrl: databaseUrl(url, 'postgres'), template: TEMPLATE_DATABASE }
  }
  // Under the system temp folder, not the repository: as root the cluster runs as user
  // `postgres`, which must be able to enter every folder above it. mkdtemp creates 0700.
  const embeddedDir = await mkdtemp(path.join(tmpdir(), 'hub-test-pg-'))
  await chmod(embeddedDir, 0o755)
  try {
    const cluster = await startEmbeddedPostgres({ dataDir: embeddedDir })
    return { adminUrl: cluster.adminUrl, template: TEMPLATE_DATABASE, embeddedDir }
  } catch (err) {
    await stopEmbeddedCluster(embeddedDir)
    throw err
  }
}

async function createTemplate ({ adminUrl, template }: ClusterState): Promise<void> {
  await withClient(adminUrl, async admin => {
    await dropDatabase(admin, template)
    await admin.query(`CREATE DATABASE ${admin.escapeIdentifier(template)}`)
  })
  await migrate(databaseUrl(adminUrl, template))
  await withClient(adminUrl, async admin => {
    // CREATE DATABASE ... TEMPLATE fails while anyone is connected to the template. Refuse new
    // connections, then end any session still closing (migrate() has disconnected, but its server
    // process may not have exited yet); pg_terminate_backend waits for each, at most 5 s.
    await admin.query(`ALTER DATABASE ${admin.escapeIdentifier(template)} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false`)
    await admin.query('SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE datname = $1', [template])
    const { rows } = await admin.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1', [template])
    if (rows[0]?.n !== 0) throw new Error(`${rows[0]?.n} sessions are still connected to ${template}`)
  })
}

await reclaimOrphans()
const state = await startCluster()
try {
  // Written first: if this process is killed during the template step, the next run reclaims the cluster.
  await writeClusterState(state)
  await createTemplate(state)
} catch (err) {
  // tap skips its "after" script when this one fails: clean up here.
  if (state.embeddedDir !== undefined) await stopEmbeddedCluster(state.embeddedDir)
  await removeClusterState()
  throw err
}
