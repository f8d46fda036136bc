// Users, their permissions and grants.
import type { Prisma, PrismaClient } from './generated/client.ts'

type Tx = PrismaClient | Prisma.TransactionClient

export const PUBLIC_USER = { id: true, username: true, email: true, role: true, createdAt: true } as const
export type PublicUser = Prisma.UserGetPayload<{ select: typeof PUBLIC_USER }>

export function createUserRepository (prisma: PrismaClient) {
  return {
    async findCredentials (username: string) {
      return await prisma.user.findUnique({ where: { username }, select: { id: true, passwordHash: true } })
    },

    async get (id: string, tx: Tx = prisma) {
      const user = await tx.user.findUnique({
        where: { id },
        select: { ...PUBLIC_USER, permissions: { select: { permission: { select: { name: true } } } } }
      })
      if (user === null) return null
      const { permissions, ...rest } = user
      return { ...rest, permissions: permissions.map(p => p.permission.name) }
    },

    async create (data: { username: string, email: string, passwordHash: string, role: 'ADMIN' | 'USER' }, tx: Tx = prisma): Promise<PublicUser> {
      return await tx.user.create({ data, select: PUBLIC_USER })
    },

    /** Deletes the user; Prisma raises P2003 while they still own servers. */
    async delete (id: string, tx: Tx = prisma): Promise<boolean> {
      const { count } = await tx.user.deleteMany({ where: { id } })
      return count === 1
    },

    /** Grants a permission; granting one already held keeps the original grant. Returns false for an unknown permission. */
    async grant (userId: string, permission: string, grantedById: string, tx: Tx = prisma): Promise<boolean> {
      const perm = await tx.permission.findUnique({ where: { name: permission }, select: { id: true } })
      if (perm === null) return false
      await tx.userPermission.upsert({
        where: { userId_permissionId: { userId, permissionId: perm.id } },
        create: { userId, permissionId: perm.id, grantedById },
        update: {}
      })
      return true
    },

    async revoke (userId: string, permission: string, tx: Tx = prisma): Promise<boolean> {
      const { count } = await tx.userPermission.deleteMany({ where: { userId, permission: { name: permission } } })
      return count === 1
    }
  }
}

export type UserRepository = ReturnType<typeof createUserRepository>
