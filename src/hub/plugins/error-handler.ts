// The one error handler: every failure leaves as `{ error: { code, message } }` (PROTOCOL.md),
// with 5xx internals hidden. Database failures are mapped here so routes stay plain.
import fp from 'fastify-plugin'
import type { FastifyError } from 'fastify'
import { DomainError } from '../../db/domain-errors.ts'
import { ERROR_PREFIX } from '../errors.ts'

/** The one mapping of the repositories' domain refusals (src/db/domain-errors.ts) to HTTP. */
const STATUS_BY_DOMAIN_KIND: Record<DomainError['kind'], number> = { BAD_REQUEST: 400, NOT_FOUND: 404, CONFLICT: 409 }

const CODE_BY_STATUS: Record<number, string> = {
  400: 'BAD_REQUEST', 401: 'UNAUTHORIZED', 403: 'FORBIDDEN', 404: 'NOT_FOUND', 409: 'CONFLICT', 413: 'PAYLOAD_TOO_LARGE', 415: 'UNSUPPORTED_MEDIA_TYPE', 429: 'RATE_LIMITED', 503: 'NOT_READY'
}

/** Prisma's known request errors that are the client's doing, and the answer they deserve. */
const PRISMA_CLIENT_ERRORS: Record<string, [number, string]> = {
  P2002: [409, 'a record with these unique fields already exists'],
  P2003: [409, 'the record is still referenced by other records'],
  P2025: [404, 'record not found']
}

/** Errors meaning the database is unreachable: the hub is not ready, the request may be retried. */
const isDatabaseDown = (err: { code?: unknown, name?: string, message?: string }): boolean =>
  err.name === 'DriverAdapterError' || err.code === 'ECONNREFUSED' || err.code === 'P1001' || err.code === 'P1017' ||
  err.code === '57P01' || err.code === '57P03' || /Connection terminated|connection timeout|timeout exceeded when trying to connect/i.test(err.message ?? '')

export default fp(async app => {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    let status = err.statusCode ?? 500
    let code = typeof err.code === 'string' && err.code.startsWith(ERROR_PREFIX) ? err.code.slice(ERROR_PREFIX.length) : undefined
    let message = err.message
    const prismaError = typeof err.code === 'string' ? PRISMA_CLIENT_ERRORS[err.code] : undefined
    if (err instanceof DomainError) {
      status = STATUS_BY_DOMAIN_KIND[err.kind]
      code = err.kind
    } else if (err.validation !== undefined) {
      status = 400
      code = 'BAD_REQUEST'
    } else if (prismaError !== undefined) {
      [status, message] = prismaError
    } else if (status >= 500 && isDatabaseDown(err)) {
      status = 503
      message = 'the database is unavailable; retry shortly'
    }
    code ??= CODE_BY_STATUS[status] ?? (status >= 500 ? 'INTERNAL' : 'BAD_REQUEST')
    const retryAfterMs = (err as { retryAfterMs?: unknown }).retryAfterMs
    if (status >= 500) {
      // A refusal for load (with Retry-After) is expected under a storm: not an error worth a log line each.
      if (typeof retryAfterMs === 'number') request.log.debug({ err }, 'refused for load')
      else request.log.error({ err }, 'request failed')
      if (status !== 503) message = 'internal error'
    }
    // Errors may carry extra fields for the client (a 409's blocking `actionId`): see errors.ts.
    const extra = status < 500 ? (err as { extra?: Record<string, unknown> }).extra : undefined
    // Every 429 and every load 503 says when to come back (PROTOCOL.md 1.1): whole seconds, at least 1.
    if (typeof retryAfterMs === 'number' || status === 429) {
      reply.header('retry-after', String(Math.max(1, Math.ceil((typeof retryAfterMs === 'number' ? retryAfterMs : 1000) / 1000))))
    }
    return reply.code(status).send({ error: { ...extra, code, message } })
  })
  app.setNotFoundHandler((request, reply) => {
    return reply.code(404).send({ error: { code: 'NOT_FOUND', message: `no route ${request.method} ${request.url.split('?')[0]}` } })
  })
}, { name: 'hub-error-handler' })
