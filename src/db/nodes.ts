// Nodes: the hosts agents run on, with their token version and presence.
import { conflict, mapping, notFound } from './domain-errors.ts'
import type { Prisma, PrismaClient } from './generated/client.ts'
import { notifyAuthChange } from './sql/auth-notify.ts'

type Tx = PrismaClient | Prisma.TransactionClient

export const PUBLIC_NODE = { id: true, name: true, tokenVersion: true, connected: true, lastSeenAt: true, createdAt: true } as const

export function createNodeRepository (prisma: PrismaClient) {
  // Token changes NOTIFY inside their transaction: the caller's, or one of their own.
  const inTx = async <T>(tx: Tx, fn: (tx: Prisma.TransactionClient) => Promise<T>): Promise<T> =>
    tx === prisma ? await prisma.$transaction(fn) : await fn(tx as Prisma.TransactionClient)
  return {
    async create (name: string, tx: Tx = prisma) {
      return await tx.node.create({ data: { name }, select: PUBLIC_NODE })
    },

    async list (tx: Tx = prisma) {
      return await tx.node.findMany({ select: PUBLIC_NODE, orderBy: { name: 'asc' } })
    },

    /**
     * Bumps the token version, revoking every token issued before; every hub closes the agent
     * still connected with an old one (auth feed). Null when the node does not exist.
     */
    async rotateToken (id: string, tx: Tx = prisma) {
      return await inTx(tx, async tx => {
        const { count } = await tx.node.updateMany({ where: { id }, data: { tokenVersion: { increment: 1 } } })
        if (count === 0) return null
        await notifyAuthChange(tx, { nodeId: id })
        return await tx.node.findUniqueOrThrow({ where: { id }, select: PUBLIC_NODE })
      })
    },

    /**
     * Deletes the node: 404 when unknown, 409 while it still has servers. Every hub closes its
     * agent (auth feed).
     */
    async delete (id: string, tx: Tx = prisma): Promise<void> {
      await inTx(tx, async tx => {
        const { count } = await mapping(async () => await tx.node.deleteMany({ where: { id } }), {
          P2003: () => conflict('the node still has servers')
        })
        if (count !== 1) throw notFound('node not found')
        await notifyAuthChange(tx, { nodeId: id })
      })
    }
  }
}

export type NodeRepository = ReturnType<typeof createNodeRepository>
