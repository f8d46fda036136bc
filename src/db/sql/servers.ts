// Servers read by id in one named statement for many ids: the action POST's access check runs
// for thousands of requests a second, so its lookups share statements (group-commit.ts).
import type pg from 'pg'

export interface ServerRef { id: string, ownerId: string, nodeId: string }

/** The owner and node of these servers, by id. */
export async function serverRefs (pool: pg.Pool, ids: readonly string[]): Promise<Map<string, ServerRef>> {
  const { rows } = await pool.query<{ id: string, owner_id: string, node_id: string }>({
    name: 'servers_refs',
    text: 'SELECT id, owner_id, node_id FROM servers WHERE id = ANY($1::uuid[])',
    values: [ids]
  })
  return new Map(rows.map(r => [r.id, { id: r.id, ownerId: r.owner_id, nodeId: r.node_id }]))
}
