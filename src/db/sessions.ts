// Panel sessions. Only the sha256 of a session token is stored.
import type { Prisma, PrismaClient } from './generated/client.ts'

type Tx = PrismaClient | Prisma.TransactionClient

export interface ActiveSession {
  id: string
  userId: string
  expiresAt: Date
  role: 'ADMIN' | 'USER'
  permissions: string[]
}

const ACTIVE_SELECT = {
  id: true,
  userId: true,
  expiresAt: true,
  revokedAt: true,
  user: { select: { role: true, permissions: { select: { permission: { select: { name: true } } } } } }
} as const

type SessionRow = Prisma.SessionGetPayload<{ select: typeof ACTIVE_SELECT }>

function active (row: SessionRow | null, now: Date): ActiveSession | null {
  if (row === null || row.revokedAt !== null || row.expiresAt <= now) return null
  return {
    id: row.id,
    userId: row.userId,
    expiresAt: row.expiresAt,
    role: row.user.role,
    permissions: row.user.permissions.map(p => p.permission.name)
  }
}

export function createSessionRepository (prisma: PrismaClient) {
  return {
    async create (data: { userId: string, tokenHash: string, expiresAt: Date, ipAddress?: string, userAgent?: string }, tx: Tx = prisma) {
      return await tx.session.create({ data, select: { id: true, expiresAt: true } })
    },

    /** The session behind a token hash with its user's role and permissions, if it is neither expired nor revoked. */
    async findActive (tokenHash: string, now: Date): Promise<ActiveSession | null> {
      return active(await prisma.session.findUnique({ where: { tokenHash }, select: ACTIVE_SELECT }), now)
    },

    /** The same, by session id (a consumed panel ticket names its session). */
    async findActiveById (id: string, now: Date): Promise<ActiveSession | null> {
      return active(await prisma.session.findUnique({ where: { id }, select: ACTIVE_SELECT }), now)
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
