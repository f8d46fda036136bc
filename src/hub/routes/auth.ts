// Login, logout and "who am I". Login answers the same 401 for an unknown user and a wrong
// password, after the same bcrypt work, and counts failures per username and per IP.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { Text } from '../../agent-protocol/text.ts'
import { verifyPassword } from '../../db/passwords.ts'
import { notifyAuthChange } from '../../db/sql/auth-notify.ts'
import { badCredentials, NotFoundError, RateLimitedError } from '../errors.ts'
import type { LoginLimiter } from '../login-limiter.ts'
import { principalOf } from '../plugins/auth.ts'
import { effectivePermissions } from '../rbac.ts'
import { hashToken, newToken } from '../tokens.ts'

export interface AuthRouteOptions {
  sessionTtlS: number
  limiter: LoginLimiter
  now: () => Date
}

const LoginBody = Type.Object({
  username: Text({ minLength: 1, maxLength: 64 }),
  password: Type.String({ minLength: 1, maxLength: 256 })
}, { additionalProperties: false })

const authRoutes: FastifyPluginAsyncTypebox<AuthRouteOptions> = async (app, { sessionTtlS, limiter, now }) => {
  const { users, sessions } = app.repos

  /** `{id, username, email, role, permissions}`, permissions being the effective ones (all for an admin). */
  const profile = async (userId: string) => {
    const user = await users.get(userId)
    if (user === null) throw new NotFoundError('user not found')
    const { id, username, email, role, permissions } = user
    return { id, username, email, role, permissions: effectivePermissions({ userId: id, role, permissions: new Set(permissions) }) }
  }

  app.post('/api/auth/login', { schema: { body: LoginBody }, config: { auth: false } }, async (request, reply) => {
    const { username, password } = request.body
    const keys = [`user:${username.toLowerCase()}`, `ip:${request.ip}`]
    if (limiter.blocked(keys)) throw new RateLimitedError('too many failed logins; try again later')
    const credentials = await users.findCredentials(username)
    if (!await verifyPassword(password, credentials?.passwordHash)) {
      limiter.fail(keys)
      throw badCredentials()
    }
    limiter.clear(keys[0] as string)
    const userId = (credentials as { id: string }).id
    const token = newToken()
    const session = await sessions.create({
      userId,
      tokenHash: hashToken(token),
      expiresAt: new Date(now().getTime() + sessionTtlS * 1000),
      ipAddress: request.ip,
      userAgent: request.headers['user-agent']?.slice(0, 512)
    })
    return await reply.code(201).send({ token, expiresAt: session.expiresAt, user: await profile(userId) })
  })

  app.post('/api/auth/logout', async (request, reply) => {
    const sessionId = (request.auth as { sessionId: string }).sessionId
    // The NOTIFY is delivered at commit: every hub then closes this session's panel sockets (4401).
    await app.db.prisma.$transaction(async tx => {
      await sessions.revoke(sessionId, now(), tx)
      await notifyAuthChange(tx, { sessionId })
    })
    return await reply.code(204).send()
  })

  app.get('/api/me', async request => await profile(principalOf(request).userId))
}

export default authRoutes
