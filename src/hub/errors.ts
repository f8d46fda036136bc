// Every error the HTTP API answers with, created in one place. The code after the
// `HUB_ERR_` prefix is what clients see in `{ error: { code, message } }`.
import createError from '@fastify/error'

export const BadRequestError = createError<[string]>('HUB_ERR_BAD_REQUEST', '%s', 400)
export const UnauthorizedError = createError<[string?]>('HUB_ERR_UNAUTHORIZED', '%s', 401)
export const ForbiddenError = createError<[string]>('HUB_ERR_FORBIDDEN', '%s', 403)
export const NotFoundError = createError<[string]>('HUB_ERR_NOT_FOUND', '%s', 404)
export const ConflictError = createError<[string]>('HUB_ERR_CONFLICT', '%s', 409)
export const RateLimitedError = createError<[string]>('HUB_ERR_RATE_LIMITED', '%s', 429)
export const NotReadyError = createError<[string]>('HUB_ERR_NOT_READY', '%s', 503)

export const ERROR_PREFIX = 'HUB_ERR_'

/** A 409 because a live START, STOP or RESTART blocks the action: the answer names it. */
export function actionConflict (actionId: string, action: string, state: string): Error {
  const err = new ConflictError(`${action} ${actionId} is still ${state} on this server`) as Error & { extra?: Record<string, unknown> }
  err.extra = { actionId }
  return err
}

/** A 429 or 503 for load: the error handler sends `Retry-After` (whole seconds, at least 1). */
export function retryLater (err: Error, retryAfterMs: number): Error {
  return Object.assign(err, { retryAfterMs })
}

/** The same answer for an unknown user and a wrong password, so neither can be told apart. */
export const badCredentials = () => new UnauthorizedError('invalid username or password')
export const missingSession = () => new UnauthorizedError('a valid session token is required')
