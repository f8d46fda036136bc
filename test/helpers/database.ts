// One database per test (or test file), so files run in parallel without sharing rows.
// The cluster and its migrated template come from global-setup.ts.
import { randomBytes } from 'node:crypto'
import { databaseUrl, dropDatabase, readClusterState, withClient } from './cluster.ts'

export interface TestDatabase {
  /** Connection string of the new database. */
  url: string
  name: string
}

/** The part of tap's `t` used here. */
interface Teardown {
  teardown (fn: () => unknown): void
}

/** Connection string of the test cluster's `postgres` maintenance database. */
export async function adminUrl (): Promise<string> {
  return (await readClusterState()).adminUrl
}

/** A new database with every migration applied (a copy of the template), dropped after `t`. */
export async function createTestDatabase (t: Teardown): Promise<TestDatabase> {
  const { template } = await readClusterState()
  return await createDatabase(t, template)
}

/** A new database without any schema (for migration tests), dropped after `t`. */
export async function createEmptyDatabase (t: Teardown): Promise<TestDatabase> {
  return await createDatabase(t, undefined)
}

async function createDatabase (t: Teardown, template: string | undefined): Promise<TestDatabase> {
  const admin = await adminUrl()
  const name = `hub_test_${randomBytes(6).toString('hex')}`
  await withClient(admin, async client => {
    const from = template === undefined ? '' : ` TEMPLATE ${client.escapeIdentifier(template)}`
    await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}${from}`)
  })
  // WITH (FORCE) ends sessions a test left open, so one leak cannot fail every later teardown.
  t.teardown(async () => { await withClient(admin, async client => { await dropDatabase(client, name) }) })
  return { url: databaseUrl(admin, name), name }
}
