// Secrets shared by every hub of one database (the hub_secrets table). The first hub to ask for
// one creates it; every hub, then and later, reads the same value. Rotating one: delete its row
// and restart the hubs (each reads it once, at start).
import { randomBytes } from 'node:crypto'
import type pg from 'pg'

/** The named secret, 32 random bytes, created on first use. */
export async function sharedSecret (pool: pg.Pool, name: string): Promise<Buffer> {
  const { rows } = await pool.query<{ value: string }>(
    `WITH created AS (
       INSERT INTO hub_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING RETURNING value
     )
     SELECT value FROM created UNION ALL SELECT value FROM hub_secrets WHERE name = $1`,
    [name, randomBytes(32).toString('base64')]
  )
  // Another hub inserting at the same moment commits after this statement's snapshot: read again.
  const value = rows[0]?.value ?? (await pool.query<{ value: string }>('SELECT value FROM hub_secrets WHERE name = $1', [name])).rows[0]?.value
  if (value === undefined) throw new Error(`hub secret ${name} could not be read`)
  return Buffer.from(value, 'base64')
}
