// Login, logout and "who am I". Login answers the same 401 for an unknown user and a wrong
// password, after the same bcrypt work, and counts attempts per username and per IP: reserved
// before the hash is checked (so parallel attempts cannot overshoot the limit), given back on
// success. Checks run off the event loop with bounded concurrency; beyond it, 503 with Retry-After.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { Text } from '../../agent-protocol/text.ts'
import type { PasswordChecker } from '../../db/passwords.ts'
import { notifyAuthChange } from '../../db/sql/auth-notify.ts'
import { badCredentials, NotFoundError, NotReadyError, RateLimitedError, retryLater } from '../errors.ts'
import { addressKey, type LoginLimiter } from '../login-limiter.ts'
import { principalOf } from '../plugins/auth.ts'
import { effectivePermissions } from '../rbac.ts'
import { hashToken, newToken } from '../tokens.ts'

export interface AuthRouteOptions {
  sessionTtlS: number
  limiter: LoginLimiter
  passwords: PasswordChecker
  now: () => Date
}

/** What a login refused for hashing capacity is told to wait: about ten checks' time. */
const HASH_BUSY_RETRY_MS = 1_000

const LoginBody = Type.Object({
  username: Text({ minLength: 1, maxLength: 64 }),
  password: Type.String({ minLength: 1, maxLength: 256 })
}, { additionalProperties: false })

const authRoutes: FastifyPluginAsyncTypebox<AuthRouteOptions> = async (app, { sessionTtlS, limiter, passwords, now }) => {
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
    let userId = ''
    const keys = [`user:${username.toLowerCase()}`, addressKey(request.ip)]
    const reserved = limiter.reserve(keys)
    if (!reserved.ok) throw retryLater(new RateLimitedError('too many failed logins; try again later'), reserved.retryAfterMs)
    let ok: boolean
    try {
      const credentials = await users.findCredentials(username)
      const check = passwords.verify(password, credentials?.passwordHash)
      if (check === undefined) throw retryLater(new NotReadyError('too many logins in progress; retry shortly'), HASH_BUSY_RETRY_MS)
      ok = await check
      if (ok) userId = (credentials as { id: string }).id
    } catch (err) {
      limiter.release(keys) // not the client's failure: the attempt is not counted
      throw err
    }
    if (!ok) throw badCredentials() // the reservation stays: a counted failure
    limiter.release(keys)
    limiter.clear(keys[0] as string)
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
