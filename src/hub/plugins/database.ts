// Decorates the instance with the database service and the repositories over it. An injected
// Database belongs to the caller and stays open; one made here closes with the instance.
import fp from 'fastify-plugin'
import { createAltRepository, type AltRepository } from '../../db/alts.ts'
import { createDatabase, type Database } from '../../db/database.ts'
import { createNodeRepository, type NodeRepository } from '../../db/nodes.ts'
import { createServerRepository, type ServerRepository } from '../../db/servers.ts'
import { createSessionRepository, type SessionRepository } from '../../db/sessions.ts'
import { createUserRepository, type UserRepository } from '../../db/users.ts'
import type { Config } from '../config.ts'

declare module 'fastify' {
  interface FastifyInstance {
    db: Database
    repos: { users: UserRepository, sessions: SessionRepository, nodes: NodeRepository, servers: ServerRepository, alts: AltRepository }
  }
}

export interface DatabasePluginOptions {
  config: Config
  db?: Database
}

export default fp<DatabasePluginOptions>(async (app, { config, db: injected }) => {
  if (injected === undefined && config.databaseUrl === undefined) {
    throw new Error('buildHub needs config.databaseUrl or an injected database')
  }
  const db = injected ?? createDatabase({
    url: config.databaseUrl as string,
    poolMax: config.dbPoolMax,
    connectTimeoutMs: config.dbConnectTimeoutMs,
    idleTimeoutMs: config.dbIdleTimeoutMs,
    statementTimeoutMs: config.dbStatementTimeoutMs,
    log: app.log
  })
  app.decorate('db', db)
  app.decorate('repos', {
    users: createUserRepository(db.prisma),
    sessions: createSessionRepository(db.prisma, db.pool),
    nodes: createNodeRepository(db.prisma),
    servers: createServerRepository(db.prisma, db.pool),
    alts: createAltRepository(db.prisma)
  })
  if (injected === undefined) app.addHook('onClose', async () => { await db.close() })
}, { name: 'hub-database' })
