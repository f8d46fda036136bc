// Panel sessions: the one data-access module for them (writes through Prisma, reads through one
// named statement in sql/sessions.ts). Only the sha256 of a session token is stored.
import type pg from 'pg'
import type { Prisma, PrismaClient } from './generated/client.ts'
import { activeSessions, type ActiveSession } from './sql/sessions.ts'

export type { ActiveSession }

type Tx = PrismaClient | Prisma.TransactionClient

export function createSessionRepository (prisma: PrismaClient, pool: pg.Pool) {
  return {
    async create (data: { userId: string, tokenHash: string, expiresAt: Date, ipAddress?: string, userAgent?: string }, tx: Tx = prisma) {
      return await tx.session.create({ data, select: { id: true, expiresAt: true } })
    },

    /** Active sessions by token hash, many at once (the batched bearer lookup of every /api request). */
    async activeByHashes (tokenHashes: readonly string[], now: Date): Promise<Map<string, ActiveSession>> {
      return await activeSessions(pool, 'tokenHash', tokenHashes, now)
    },

    /** The ids among `ids` whose sessions are still active (panel re-checks). */
    async activeIds (ids: readonly string[], now: Date): Promise<Set<string>> {
      return new Set((await activeSessions(pool, 'id', ids, now)).keys())
    },

    /** The session behind a token hash with its user's role and permissions, if it is neither expired nor revoked. */
    async findActive (tokenHash: string, now: Date): Promise<ActiveSession | null> {
      return (await activeSessions(pool, 'tokenHash', [tokenHash], now)).get(tokenHash) ?? null
    },

    /** The same, by session id (a consumed panel ticket names its session). */
    async findActiveById (id: string, now: Date): Promise<ActiveSession | null> {
      return (await activeSessions(pool, 'id', [id], now)).get(id) ?? null
    },

    async revoke (id: string, now: Date, tx: Tx = prisma): Promise<void> {
      await tx.session.updateMany({ where: { id, revokedAt: null }, data: { revokedAt: now } })
    },

    /** Removes sessions that expired or were revoked before `before`. */
    async prune (before: Date): Promise<number> {
      const { count } = await prisma.session.deleteMany({ where: { OR: [{ expiresAt: { lt: before } }, { revokedAt: { lt: before } }] } })
      return count
    }
  }
}

export type SessionRepository = ReturnType<typeof createSessionRepository>
