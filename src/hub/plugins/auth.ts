// Bearer-session authentication for /api: ONE onRequest hook authenticates every /api route
// before anything else runs (validation, lookups), except routes whose config says `auth: false`
// (login). It resolves the session (an indexed lookup by token hash) and attaches `request.auth`. Lookups
// that arrive while one is in flight share the next statement (group-commit.ts): at low load a
// request waits for its own query only, under load the pool sees one query per batch.
import fp from 'fastify-plugin'
import type { FastifyRequest } from 'fastify'
import { missingSession, NotReadyError } from '../errors.ts'
import { createBatchedLookup } from '../group-commit.ts'
import type { Principal } from '../rbac.ts'
import { hashToken } from '../tokens.ts'

export interface Auth {
  sessionId: string
  expiresAt: Date
  principal: Principal
}

declare module 'fastify' {
  interface FastifyRequest {
    auth: Auth | null
  }
  interface FastifyInstance {
    /** What the /api hook runs; a no-op for a request it already authenticated. */
    authenticate: (request: FastifyRequest) => Promise<void>
  }
  interface FastifyContextConfig {
    /** `false`: an /api route anyone may call (login). Every other /api route needs a session. */
    auth?: false
  }
}

const MAX_TOKEN_LENGTH = 512

/** The token of an `Authorization: Bearer <token>` header, if well-formed. */
export function bearerToken (header: string | undefined): string | undefined {
  if (header === undefined || header.length > MAX_TOKEN_LENGTH + 7) return undefined
  const [scheme, token, extra] = header.split(' ')
  if (scheme?.toLowerCase() !== 'bearer' || token === undefined || token === '' || extra !== undefined) return undefined
  return token
}

/** The authenticated principal of a request that went through `app.authenticate`. */
export function principalOf (request: FastifyRequest): Principal {
  if (request.auth === null) throw missingSession()
  return request.auth.principal
}

export default fp<{ now: () => Date }>(async (app, { now }) => {
  const lookupSession = createBatchedLookup(async hashes => await app.repos.sessions.activeByHashes(hashes, now()), 2)
  app.decorateRequest('auth', null)
  const authenticate = async (request: FastifyRequest) => {
    if (request.auth !== null) return
    const token = bearerToken(request.headers.authorization)
    if (token === undefined) throw missingSession()
    let session
    try {
      session = await lookupSession(hashToken(token))
    } catch (err) {
      app.log.error({ err }, 'session lookup failed')
      throw new NotReadyError('sessions cannot be checked right now; retry shortly')
    }
    if (session === undefined) throw missingSession()
    request.auth = {
      sessionId: session.id,
      expiresAt: session.expiresAt,
      principal: { userId: session.userId, role: session.role, permissions: new Set(session.permissions) }
    }
  }
  app.decorate('authenticate', authenticate)
  // Unknown /api paths answer 401 to anonymous callers too, so routes cannot be probed without a session.
  // Decided by the matched route's pattern, not the raw URL, so no spelling of a path
  // (percent-encoding, say) reaches an /api route without this check.
  app.addHook('onRequest', async request => {
    const route = request.routeOptions.url
    if (!(route ?? request.url).startsWith('/api/') || request.routeOptions.config.auth === false) return
    await authenticate(request)
  })
}, { name: 'hub-auth', dependencies: ['hub-database'] })
