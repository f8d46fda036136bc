// Active sessions, with their user's role and permissions, in one named statement for many keys
// (token hashes for bearer requests and panel upgrades, ids for tickets and re-checks). Every /api
// request resolves its bearer token, and under load (thousands of POSTs a second) one query per
// request would queue them all on the pool; Prisma's nested select for the same answer costs
// several round trips (session, user, permissions); this is one, prepared.
import type pg from 'pg'

export interface ActiveSession {
  id: string
  userId: string
  expiresAt: Date
  role: 'ADMIN' | 'USER'
  permissions: string[]
}

interface Raw { key: string, id: string, user_id: string, expires_at: Date, role: 'ADMIN' | 'USER', permissions: string[] }

const statement = (column: 'token_hash' | 'id', cast: 'text' | 'uuid') =>
  `SELECT s.${column}::text AS key, s.id, s.user_id, s.expires_at, u.role,
          ARRAY(SELECT p.name FROM user_permissions up JOIN permissions p ON p.id = up.permission_id WHERE up.user_id = u.id) AS permissions
   FROM sessions s JOIN users u ON u.id = s.user_id
   WHERE s.${column} = ANY($1::${cast}[]) AND s.revoked_at IS NULL AND s.expires_at > $2`
const BY_HASH = { name: 'sessions_active_by_hash', text: statement('token_hash', 'text') }
const BY_ID = { name: 'sessions_active_by_id', text: statement('id', 'uuid') }

/** The sessions behind these token hashes (or ids) that are neither expired nor revoked at `now`, keyed by what was asked. */
export async function activeSessions (pool: pg.Pool, by: 'tokenHash' | 'id', keys: readonly string[], now: Date): Promise<Map<string, ActiveSession>> {
  const { rows } = await pool.query<Raw>({ ...(by === 'id' ? BY_ID : BY_HASH), values: [keys, now] })
  return new Map(rows.map(r => [r.key, { id: r.id, userId: r.user_id, expiresAt: r.expires_at, role: r.role, permissions: r.permissions }]))
}
