// What a backup records of its cluster and what the checks compare with it, each read one way:
// the base backup writes them into its manifest, the WAL archiver refuses segments of another
// cluster, verification compares the restored cluster with the manifest.
import type pg from 'pg'

/** pg_control_system().system_identifier, as text (it outgrows 2^53). */
export async function systemIdentifier (client: pg.ClientBase): Promise<string | undefined> {
  return (await client.query<{ id: string }>('SELECT system_identifier::text AS id FROM pg_control_system()')).rows[0]?.id
}

/** The migrations applied to the hub's database (finished, not rolled back), by name. */
export async function appliedMigrations (client: pg.ClientBase): Promise<string[]> {
  const { rows } = await client.query<{ migration_name: string }>('SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL ORDER BY migration_name')
  return rows.map(r => r.migration_name)
}
