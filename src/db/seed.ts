// The idempotent seed, in dependency order: permissions, the admin user, the templates
// `generic` and `minecraft-java`, and in development a demo node with servers. Running it twice changes nothing;
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

/**
 * A Minecraft-style Java server with its real startup line. The game jar is not available here
 * (no internet); the install script is what an operator would run on a real host: it fetches the
 * jar named by SERVER_JARFILE from DOWNLOAD_URL when one is given, and writes eula.txt.
 */
export const MINECRAFT_ALT = {
  name: 'minecraft-java',
  image: 'ghcr.io/pterodactyl/yolks:java_21',
  startup: 'java -Xms128M -Xmx{{SERVER_MEMORY}}M -jar {{SERVER_JARFILE}} nogui',
  stop: { type: 'command', value: 'stop', graceS: 30 },
  doneRegex: '\\)! For help, type ',
  install: [
    '#!/bin/sh',
    '# Runs in the server folder with the server\'s environment (variables and SERVER_PORT).',
    'set -eu',
    'if [ -n "$DOWNLOAD_URL" ]; then',
    '  echo "downloading $DOWNLOAD_URL to $SERVER_JARFILE"',
    '  curl -fsSL -o "$SERVER_JARFILE" "$DOWNLOAD_URL"',
    'elif [ ! -f "$SERVER_JARFILE" ]; then',
    '  echo "no $SERVER_JARFILE yet: upload it, or set DOWNLOAD_URL and install again"',
    'fi',
    'echo "eula=$EULA" > eula.txt',
    'if [ ! -f server.properties ]; then printf \'server-port=%s\\nquery.port=%s\\n\' "$SERVER_PORT" "$SERVER_PORT" > server.properties; fi',
    'echo "install done"',
    ''
  ].join('\n'),
  variables: [
    { name: 'SERVER_JARFILE', default: 'server.jar', description: 'The jar file to run', required: true },
    { name: 'DOWNLOAD_URL', default: '', description: 'Where the install script fetches the jar from (empty: keep the uploaded one)', required: false },
    { name: 'EULA', default: 'false', description: 'TRUE accepts the Minecraft EULA (written to eula.txt by the install script)', required: true }
  ]
}

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
    // Created when absent, never updated: an operator's edits to a seeded template stay.
    await tx.alt.upsert({ where: { name: MINECRAFT_ALT.name }, create: MINECRAFT_ALT, update: {}, select: { id: true } })

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
