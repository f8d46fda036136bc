// Domain refusals raised by the repositories (a taken port, a user who still owns servers, the
// last ADMIN). They know nothing of HTTP: plugins/error-handler.ts maps each kind to its status
// once, so routes never catch Prisma codes themselves.
export const DOMAIN_ERROR_KINDS = ['CONFLICT', 'NOT_FOUND', 'BAD_REQUEST'] as const
export type DomainErrorKind = typeof DOMAIN_ERROR_KINDS[number]

export class DomainError extends Error {
  readonly kind: DomainErrorKind
  /** Fields the client sees next to `code` and `message` (a 409's blocking `actionId`). */
  readonly extra: Record<string, unknown> | undefined

  constructor (kind: DomainErrorKind, message: string, extra?: Record<string, unknown>) {
    super(message)
    this.name = 'DomainError'
    this.kind = kind
    this.extra = extra
  }
}

export const conflict = (message: string, extra?: Record<string, unknown>) => new DomainError('CONFLICT', message, extra)
export const notFound = (message: string) => new DomainError('NOT_FOUND', message)
export const invalid = (message: string) => new DomainError('BAD_REQUEST', message)

/** Prisma's error code (P2002 unique, P2003 foreign key, P2025 missing), if `err` is one of its known request errors. */
const prismaCode = (err: unknown): string | undefined => {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'string' && /^P\d{4}$/.test(code) ? code : undefined
}

/** Runs a write and turns the Prisma codes named in `map` into domain errors; anything else passes through. */
export async function mapping<T> (write: () => Promise<T>, map: Partial<Record<'P2002' | 'P2003' | 'P2025', () => DomainError>>): Promise<T> {
  try {
    return await write()
  } catch (err) {
    const make = map[prismaCode(err) as keyof typeof map]
    if (make !== undefined) throw make()
    throw err
  }
}
