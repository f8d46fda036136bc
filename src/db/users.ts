// Users, their permissions and grants. Domain refusals (a taken name, the last ADMIN, a user who
// still owns servers) are raised here as DomainErrors; the error handler maps them.
import { conflict, mapping, notFound } from './domain-errors.ts'
import type { Prisma, PrismaClient } from './generated/client.ts'
import { lockAdmins } from './sql/users.ts'

type Tx = PrismaClient | Prisma.TransactionClient
export type Role = 'ADMIN' | 'USER'

export const PUBLIC_USER = { id: true, username: true, email: true, role: true, createdAt: true } as const
export type PublicUser = Prisma.UserGetPayload<{ select: typeof PUBLIC_USER }>
/** A user as `GET /api/users` shows it: `permissions` are the grants (an ADMIN holds all regardless). */
export type UserWithPermissions = PublicUser & { permissions: string[] }

const WITH_PERMISSIONS = { ...PUBLIC_USER, permissions: { select: { permission: { select: { name: true } } } } } as const
type Row = Prisma.UserGetPayload<{ select: typeof WITH_PERMISSIONS }>
const withPermissions = ({ permissions, ...rest }: Row): UserWithPermissions =>
  ({ ...rest, permissions: permissions.map(p => p.permission.name).sort() })

export interface Page<T> { items: T[], next: string | null }

export function createUserRepository (prisma: PrismaClient) {
  /** Locks the ADMIN rows and refuses (409) when `id` is the only ADMIN left. Returns whether `id` is an ADMIN. */
  const guardLastAdmin = async (id: string, what: string, tx: Tx): Promise<boolean> => {
    const admins = await lockAdmins(tx)
    if (!admins.includes(id)) return false
    if (admins.length <= 1) throw conflict(`the last ADMIN cannot be ${what}`)
    return true
  }

  return {
    async findCredentials (username: string) {
      return await prisma.user.findUnique({ where: { username }, select: { id: true, passwordHash: true } })
    },

    async get (id: string, tx: Tx = prisma): Promise<UserWithPermissions | null> {
      const user = await tx.user.findUnique({ where: { id }, select: WITH_PERMISSIONS })
      return user === null ? null : withPermissions(user)
    },

    /** Users by id, `limit` a page, `after` the last id of the previous page. */
    async list (options: { after?: string, limit: number }): Promise<Page<UserWithPermissions>> {
      const rows = await prisma.user.findMany({
        where: options.after === undefined ? {} : { id: { gt: options.after } },
        select: WITH_PERMISSIONS,
        orderBy: { id: 'asc' },
        take: options.limit + 1
      })
      const items = rows.slice(0, options.limit).map(withPermissions)
      return { items, next: rows.length > options.limit ? (items[items.length - 1] as UserWithPermissions).id : null }
    },

    async create (data: { username: string, email: string, passwordHash: string, role: Role }, tx: Tx = prisma): Promise<PublicUser> {
      return await mapping(async () => await tx.user.create({ data, select: PUBLIC_USER }), {
        P2002: () => conflict('a user with this username or email already exists')
      })
    },

    /**
     * Deletes the user: 404 when unknown, 409 for the last ADMIN and while they own servers.
     * `beforeAdmin` runs (and may throw) when the user is an ADMIN who is not the last one.
     * Run it in a transaction: the ADMIN rows stay locked until it ends.
     */
    async delete (id: string, tx: Tx, beforeAdmin?: () => void): Promise<void> {
      if (await guardLastAdmin(id, 'deleted', tx)) beforeAdmin?.()
      const { count } = await mapping(async () => await tx.user.deleteMany({ where: { id } }), {
        P2003: () => conflict('the user still owns servers')
      })
      if (count !== 1) throw notFound('user not found')
    },

    /** Sets the role: 404 when unknown, 409 when it would demote the last ADMIN. Run it in a transaction. */
    async setRole (id: string, role: Role, tx: Tx): Promise<UserWithPermissions> {
      if (role !== 'ADMIN') await guardLastAdmin(id, 'demoted', tx)
      const { count } = await tx.user.updateMany({ where: { id }, data: { role } })
      if (count !== 1) throw notFound('user not found')
      return await this.get(id, tx) as UserWithPermissions
    },

    /** Grants a permission; granting one already held keeps the original grant. 404 for an unknown user. */
    async grant (userId: string, permission: string, grantedById: string, tx: Tx = prisma): Promise<void> {
      const perm = await tx.permission.findUnique({ where: { name: permission }, select: { id: true } })
      if (perm === null) throw notFound(`unknown permission ${permission}`)
      await mapping(async () => await tx.userPermission.upsert({
        where: { userId_permissionId: { userId, permissionId: perm.id } },
        create: { userId, permissionId: perm.id, grantedById },
        update: {}
      }), { P2003: () => notFound('user not found') })
    },

    /** Revokes a grant; 404 when the user does not hold it. */
    async revoke (userId: string, permission: string, tx: Tx = prisma): Promise<void> {
      const { count } = await tx.userPermission.deleteMany({ where: { userId, permission: { name: permission } } })
      if (count !== 1) throw notFound('the user does not hold this permission')
    }
  }
}

export type UserRepository = ReturnType<typeof createUserRepository>
