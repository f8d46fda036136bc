// Token versions of many nodes in one query: agent upgrades arrive in storms (10,000 agents
// after a hub restart), and one query per upgrade would queue them all on the pool.
import type pg from 'pg'

export async function tokenVersions (pool: pg.Pool, nodeIds: readonly string[]): Promise<Map<string, number>> {
  const { rows } = await pool.query<{ id: string, token_version: number }>({
    name: 'node_token_versions',
    text: 'SELECT id, token_version FROM nodes WHERE id = ANY($1::uuid[])',
    values: [nodeIds]
  })
  return new Map(rows.map(r => [r.id, r.token_version]))
}
