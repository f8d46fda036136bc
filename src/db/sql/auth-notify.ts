// Changes to who may see what, announced on their own channel so that every hub instance can act
// on its live panel sockets at once (revocation). Sent inside the transaction of the change, so
// PostgreSQL delivers it at commit, and only if the change committed.
export const AUTH_CHANNEL = 'hub_auth'

export type AuthChange =
  /** A session was revoked (logout): its sockets close with 4401. */
  | { sessionId: string }
  /** A user was deleted, or their role or permissions changed: their sockets are re-checked. */
  | { userId: string }
  /** A server was deleted or changed owner: subscriptions to it are re-checked. */
  | { serverId: string }

/** What a Prisma client or transaction offers for raw SQL. */
interface RawSql { $executeRaw (query: TemplateStringsArray, ...values: unknown[]): Promise<number> }

export async function notifyAuthChange (tx: RawSql, change: AuthChange): Promise<void> {
  await tx.$executeRaw`SELECT pg_notify(${AUTH_CHANNEL}, ${JSON.stringify(change)})`
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** Parses a notification payload; anything else (a foreign sender, a newer format) is ignored. */
export function parseAuthChange (payload: string | undefined): AuthChange | undefined {
  try {
    const v = JSON.parse(payload ?? '') as Record<string, unknown>
    for (const key of ['sessionId', 'userId', 'serverId'] as const) {
      if (typeof v[key] === 'string' && UUID.test(v[key])) return { [key]: v[key] } as AuthChange
    }
  } catch {}
  return undefined
}
