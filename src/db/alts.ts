// Configuration templates (alts): one repository for the aggregate. What a template must hold
// is checked in src/hub/provisioning/template.ts before anything is written here.
import { conflict, mapping } from './domain-errors.ts'
import type { Prisma, PrismaClient } from './generated/client.ts'
import type { AutoRestart, ServerSettings, StopSpec, Template, Variable } from '../hub/provisioning/types.ts'

type Tx = PrismaClient | Prisma.TransactionClient

export const PUBLIC_ALT = {
  id: true, name: true, image: true, startup: true, stop: true, doneRegex: true, install: true, variables: true, createdAt: true, updatedAt: true
} as const
export type PublicAlt = Prisma.AltGetPayload<{ select: typeof PUBLIC_ALT }>

export interface AltWrite extends Template { name: string, image: string }

/** The template part of a stored alt (its JSON columns were written from a checked Template). */
export const templateOf = (alt: Pick<PublicAlt, 'startup' | 'stop' | 'doneRegex' | 'install' | 'variables'>): Template => ({
  startup: alt.startup,
  stop: alt.stop as unknown as StopSpec,
  doneRegex: alt.doneRegex,
  install: alt.install,
  variables: alt.variables as unknown as Variable[]
})

const json = (v: unknown) => v as Prisma.InputJsonValue

export function createAltRepository (prisma: PrismaClient) {
  return {
    async list (tx: Tx = prisma): Promise<PublicAlt[]> {
      return await tx.alt.findMany({ select: PUBLIC_ALT, orderBy: { name: 'asc' } })
    },

    async get (id: string, tx: Tx = prisma): Promise<PublicAlt | null> {
      return await tx.alt.findUnique({ where: { id }, select: PUBLIC_ALT })
    },

    /**
     * The alt, locked until the transaction ends: `share` for writers of servers made from it,
     * `update` for writers of the template, so a server is never checked against a template that
     * changes before it commits, nor a template against servers that change meanwhile.
     */
    async lock (id: string, mode: 'share' | 'update', tx: Prisma.TransactionClient): Promise<PublicAlt | null> {
      const rows = mode === 'share'
        ? await tx.$queryRaw<Array<{ id: string }>>`SELECT id::text FROM alts WHERE id = ${id}::uuid FOR SHARE`
        : await tx.$queryRaw<Array<{ id: string }>>`SELECT id::text FROM alts WHERE id = ${id}::uuid FOR UPDATE`
      return rows.length === 0 ? null : await tx.alt.findUnique({ where: { id }, select: PUBLIC_ALT })
    },

    /** The servers made from this template, with what their configuration is resolved from. */
    async servers (altId: string, tx: Tx = prisma): Promise<ServerSettings[]> {
      const rows = await tx.server.findMany({
        where: { altId },
        select: { id: true, name: true, port: true, environment: true, memoryLimitMb: true, autoRestart: true, configRevision: true },
        orderBy: { id: 'asc' }
      })
      return rows.map(r => ({ ...r, environment: r.environment as Record<string, string>, autoRestart: r.autoRestart as unknown as AutoRestart }))
    },

    /** How many servers are made from this template. */
    async serverCount (altId: string, tx: Tx = prisma): Promise<number> {
      return await tx.server.count({ where: { altId } })
    },

    /** A new revision for every server made from this template (its configuration changed). */
    async bumpServers (altId: string, tx: Tx = prisma): Promise<void> {
      await tx.server.updateMany({ where: { altId }, data: { configRevision: { increment: 1 } } })
    },

    /** 409 for a name already taken. */
    async create (data: AltWrite, tx: Tx = prisma): Promise<PublicAlt> {
      return await mapping(async () => await tx.alt.create({ data: { ...data, stop: json(data.stop), variables: json(data.variables) }, select: PUBLIC_ALT }), {
        P2002: () => conflict(`an alt named ${data.name} already exists`)
      })
    },

    /**
     * False when there is no such template. A template that servers are still made from is
     * refused (409, the foreign key's Restrict decides, so a server created meanwhile cannot slip by).
     */
    async delete (id: string, tx: Tx = prisma): Promise<boolean> {
      const { count } = await mapping(async () => await tx.alt.deleteMany({ where: { id } }), {
        P2003: () => conflict('servers are still made from this template: delete them or move them first')
      })
      return count > 0
    },

    /** Replaces the template's fields; 409 for a name already taken. */
    async update (id: string, data: AltWrite, tx: Tx = prisma): Promise<PublicAlt> {
      return await mapping(async () => await tx.alt.update({ where: { id }, data: { ...data, stop: json(data.stop), variables: json(data.variables) }, select: PUBLIC_ALT }), {
        P2002: () => conflict(`an alt named ${data.name} already exists`)
      })
    }
  }
}

export type AltRepository = ReturnType<typeof createAltRepository>
