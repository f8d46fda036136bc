// Session lookups for request authentication, in one statement for many tokens: every /api
// request resolves its bearer token, and under load (thousands of POSTs a second) one query per
// request would queue them all on the pool. Prisma's nested select for the same answer costs
// several round trips (session, user, permissions); this is one, named (prepared).
import type pg from 'pg'
import type { ActiveSession } from '../sessions.ts'

interface Raw { token_hash: string, id: string, user_id: string, expires_at: Date, role: 'ADMIN' | 'USER', permissions: string[] }

/** The sessions behind these token hashes that are neither expired nor revoked at `now`, by hash. */
export async function activeSessions (pool: pg.Pool, tokenHashes: readonly string[], now: Date): Promise<Map<string, ActiveSession>> {
  const { rows } = await pool.query<Raw>({
    name: 'sessions_active_by_hash',
    text: `SELECT s.token_hash, s.id, s.user_id, s.expires_at, u.role,
                  ARRAY(SELECT p.name FROM user_permissions up JOIN permissions p ON p.id = up.permission_id WHERE up.user_id = u.id) AS permissions
           FROM sessions s JOIN users u ON u.id = s.user_id
           WHERE s.token_hash = ANY($1::text[]) AND s.revoked_at IS NULL AND s.expires_at > $2`,
    values: [tokenHashes, now]
  })
  return new Map(rows.map(r => [r.token_hash, { id: r.id, userId: r.user_id, expiresAt: r.expires_at, role: r.role, permissions: r.permissions }]))
}
