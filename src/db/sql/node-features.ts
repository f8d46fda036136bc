// Each node's latest negotiated features (welcome.features, PROTOCOL.md 1.1): written with the
// hello that negotiated them, read by the action layer (src/db/sql/actions.ts) to decide whether
// an INSTALL or COMMAND may be sent to the node.
import type pg from 'pg'

/** Sets the features of these nodes (the last entry per node wins); rows already equal are not touched. */
export async function setNodeFeatures (client: pg.PoolClient, entries: ReadonlyArray<{ nodeId: string, features: readonly string[] }>): Promise<void> {
  if (entries.length === 0) return
  const latest = new Map(entries.map(e => [e.nodeId, e.features]))
  await client.query({
    name: 'nodes_set_features',
    // Arrays of arrays cannot be unnested row by row: each node's list travels as one JSON array.
    text: `UPDATE nodes n SET features = ARRAY(SELECT jsonb_array_elements_text(v.features))
           FROM unnest($1::uuid[], $2::jsonb[]) AS v(id, features)
           WHERE n.id = v.id AND n.features IS DISTINCT FROM ARRAY(SELECT jsonb_array_elements_text(v.features))`,
    values: [[...latest.keys()], [...latest.values()].map(f => JSON.stringify(f))]
  })
}
