// Each node's latest negotiated features (welcome.features, PROTOCOL.md 1.1): written with the
// hello that negotiated them, read by the action layer (src/db/sql/actions.ts) to decide whether
// an INSTALL or COMMAND may be sent to the node.
import { jsonb } from './events.ts'

/**
 * The statement that sets the features of these nodes (the last entry per node wins), values
 * inlined (it is sent with COMMIT); rows already equal are not touched. Null when there are none.
 */
export function setNodeFeaturesSql (entries: ReadonlyArray<{ nodeId: string, features: readonly string[] }>): string | null {
  if (entries.length === 0) return null
  const latest = [...new Map(entries.map(e => [e.nodeId, e.features]))].map(([id, features]) => ({ id, features }))
  // Arrays of arrays cannot be unnested row by row: each node's list stays a JSON array.
  return `UPDATE nodes n SET features = ARRAY(SELECT jsonb_array_elements_text(v.features))
          FROM jsonb_to_recordset(${jsonb(latest)}) AS v(id uuid, features jsonb)
          WHERE n.id = v.id AND n.features IS DISTINCT FROM ARRAY(SELECT jsonb_array_elements_text(v.features))`
}
