// The idempotent seed, in dependency order: permissions, the admin user, the `generic`
// template, and in development a demo node with servers. Running it twice changes nothing;
// it never overwrites an existing row (above all, never an existing user's password).
// Two hubs starting at once serialise on an advisory lock, so neither trips on the other's rows.
import { randomBytes } from 'node:crypto'
import type { PrismaClient } from './generated/client.ts'
import { hashPassword } from './passwords.ts'
import { PERMISSIONS } from './permissions.ts'

const SEED_LOCK_KEY = 72707370

export interface SeedOptions {
  env: 'development' | 'production' | 'test'
  /** Password for a newly created `admin`; generated when absent (never in production). */
  adminPassword?: string
}

export interface SeedResult {
  /** Set only when this run created `admin` with a generated password: print it once. */
  generatedAdminPassword?: string
}

export const DEMO_NODE = 'demo-node'
export const GENERIC_ALT = { name: 'generic', image: 'ghcr.io/pterodactyl/yolks:java_21', startup: 'java -Xms128M -jar server.jar', config: { memoryMb: 1024 } }

export async function seed (prisma: PrismaClient, options: SeedOptions): Promise<SeedResult> {
  if (options.env === 'production' && options.adminPassword === undefined) {
    throw new Error('HUB_ADMIN_PASSWORD is required to seed a production database')
  }
  // Hash outside the transaction: bcrypt is slow and must not hold the lock longer than needed.
  const generated = options.adminPassword === undefined ? randomBytes(12).toString('base64url') : undefined
  const passwordHash = await hashPassword(options.adminPassword ?? generated as string)

  return await prisma.$transaction(async tx => {
    await tx.$executeRaw`SELECT pg_advisory_xact_lock(${SEED_LOCK_KEY})`

    for (const [name, { description, category }] of Object.entries(PERMISSIONS)) {
      await tx.permission.upsert({ where: { name }, create: { name, description, category }, update: {} })
    }

    const existing = await tx.user.findUnique({ where: { username: 'admin' }, select: { id: true } })
    const admin = existing ?? await tx.user.create({
      data: { username: 'admin', email: 'admin@localhost', passwordHash, role: 'ADMIN' },
      select: { id: true }
    })

    const alt = await tx.alt.upsert({ where: { name: GENERIC_ALT.name }, create: GENERIC_ALT, update: {}, select: { id: true } })

    if (options.env === 'development') {
      const node = await tx.node.upsert({ where: { name: DEMO_NODE }, create: { name: DEMO_NODE }, update: {}, select: { id: true } })
      for (let i = 0; i < 3; i++) {
        const port = 25565 + i
        await tx.server.upsert({
          where: { nodeId_port: { nodeId: node.id, port } },
          create: { name: `demo-${i + 1}`, port, nodeId: node.id, altId: alt.id, ownerId: admin.id },
          update: {}
        })
      }
    }
    return existing === null && generated !== undefined ? { generatedAdminPassword: generated } : {}
  }, { timeout: 30_000 })
}
