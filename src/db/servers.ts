// Servers and their status history. Their templates (alts) live in alts.ts.
import { conflict, invalid, mapping } from './domain-errors.ts'
import type pg from 'pg'
import type { Prisma, PrismaClient } from './generated/client.ts'
import { serverRefs, type ServerRef } from './sql/servers.ts'

export type { ServerRef }

type Tx = PrismaClient | Prisma.TransactionClient

export const PUBLIC_SERVER = {
  id: true,
  name: true,
  status: true,
  port: true,
  nodeId: true,
  altId: true,
  ownerId: true,
  environment: true,
  memoryLimitMb: true,
  autoRestart: true,
  configRevision: true,
  statusChangedAt: true,
  createdAt: true,
  updatedAt: true
} as const
/** What the select reads: the model's public fields plus the names shown next to the ids. */
const SERVER_SELECT = { ...PUBLIC_SERVER, node: { select: { name: true } }, owner: { select: { username: true } } } as const
type ServerRow = Prisma.ServerGetPayload<{ select: typeof SERVER_SELECT }>
/** A server over HTTP: its public fields, `nodeName` and `ownerUsername` (PROTOCOL.md 1.1). */
export type PublicServer = Prisma.ServerGetPayload<{ select: typeof PUBLIC_SERVER }> & { nodeName: string, ownerUsername: string }
const toPublic = ({ node, owner, ...rest }: ServerRow): PublicServer => ({ ...rest, nodeName: node.name, ownerUsername: owner.username })

/** The server's part of its configuration (PROTOCOL.md 1.1); checked in src/hub/provisioning. */
export interface ServerConfigFields {
  environment: Record<string, string>
  memoryLimitMb: number | null
  autoRestart: { enabled: boolean, maxRestarts: number, windowS: number }
}

const jsonFields = (data: Partial<ServerConfigFields>) => ({
  ...(data.environment === undefined ? {} : { environment: data.environment as Prisma.InputJsonObject }),
  ...(data.autoRestart === undefined ? {} : { autoRestart: data.autoRestart as unknown as Prisma.InputJsonObject })
})

export interface Page<T> { items: T[], next: string | null }

/** Takes `limit + 1` rows: the extra one only says whether a next page exists. */
function page<T extends { id: string }> (rows: T[], limit: number): Page<T> {
  const items = rows.slice(0, limit)
  return { items, next: rows.length > limit ? (items[items.length - 1] as T).id : null }
}

export function createServerRepository (prisma: PrismaClient, pool: pg.Pool) {
  return {
    /** Owner and node of many servers at once (access checks on hot paths), by id. */
    async refs (ids: readonly string[]): Promise<Map<string, ServerRef>> {
      return await serverRefs(pool, ids)
    },

    /** Servers by id; `ownerId` restricts to one owner's (for callers without `servers.view`). */
    async list (options: { ownerId?: string, nodeId?: string, after?: string, limit: number }): Promise<Page<PublicServer>> {
      const rows = await prisma.server.findMany({
        where: {
          ...(options.ownerId === undefined ? {} : { ownerId: options.ownerId }),
          ...(options.nodeId === undefined ? {} : { nodeId: options.nodeId }),
          ...(options.after === undefined ? {} : { id: { gt: options.after } })
        },
        select: SERVER_SELECT,
        orderBy: { id: 'asc' },
        take: options.limit + 1
      })
      return page(rows.map(toPublic), options.limit)
    },

    async get (id: string, tx: Tx = prisma): Promise<PublicServer | null> {
      const row = await tx.server.findUnique({ where: { id }, select: SERVER_SELECT })
      return row === null ? null : toPublic(row)
    },

    /** 409 for a port the node already uses, 400 for an unknown node, alt or owner. */
    async create (data: { name: string, nodeId: string, altId: string, ownerId: string, port: number } & Partial<ServerConfigFields>, tx: Tx = prisma): Promise<PublicServer> {
      return toPublic(await mapping(async () => await tx.server.create({ data: { ...data, ...jsonFields(data) }, select: SERVER_SELECT }), {
        P2002: () => conflict(`the node already has a server on port ${data.port}`),
        P2003: () => invalid('nodeId, altId and ownerId must name an existing node, alt and user')
      }))
    },

    /** Changes the name or configuration and bumps `configRevision`. Null when there is no such server. */
    async updateConfig (id: string, data: { name?: string } & Partial<ServerConfigFields>, tx: Tx = prisma): Promise<PublicServer | null> {
      const { count } = await tx.server.updateMany({ where: { id }, data: { ...data, ...jsonFields(data), configRevision: { increment: 1 } } })
      if (count === 0) return null
      const row = await tx.server.findUnique({ where: { id }, select: SERVER_SELECT })
      return row === null ? null : toPublic(row)
    },

    async delete (id: string, tx: Tx = prisma): Promise<boolean> {
      const { count } = await tx.server.deleteMany({ where: { id } })
      return count === 1
    },

    /**
     * Status history, newest first. `before` is a transition id: the page holds the ones older
     * than it (by time, ties broken by id). Undefined when `before` names no transition of this server.
     */
    async transitions (serverId: string, options: { before?: string, limit: number }) {
      let where: Prisma.ServerStatusTransitionWhereInput = { serverId }
      if (options.before !== undefined) {
        const anchor = await prisma.serverStatusTransition.findFirst({ where: { id: options.before, serverId }, select: { id: true, at: true } })
        if (anchor === null) return undefined
        where = { serverId, OR: [{ at: { lt: anchor.at } }, { at: anchor.at, id: { lt: anchor.id } }] }
      }
      const rows = await prisma.serverStatusTransition.findMany({
        where,
        orderBy: [{ at: 'desc' }, { id: 'desc' }],
        take: options.limit + 1
      })
      return page(rows.map(r => ({ ...r, seq: r.seq === null ? null : Number(r.seq) })), options.limit)
    }
  }
}

export type ServerRepository = ReturnType<typeof createServerRepository>
