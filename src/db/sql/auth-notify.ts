// Changes to who may see what, announced on their own channel so that every hub instance can act
// on its live panel sockets at once (revocation). Sent inside the transaction of the change, so
// PostgreSQL delivers it at commit, and only if the change committed.
import { isCanonicalUuid } from '../../agent-protocol/ids.ts'

export const AUTH_CHANNEL = 'hub_auth'

export type AuthChange =
  /** A session was revoked (logout): its sockets close with 4401. */
  | { sessionId: string }
  /** A user was deleted, or their role or permissions changed: their sockets are re-checked. */
  | { userId: string }
  /** A server was deleted or changed owner: subscriptions to it are re-checked. */
  | { serverId: string }
  /** A node's agent token was rotated or the node deleted: its agent connection, on whichever
   *  hub holds it, is re-checked against the node's token version and closes (4401) if stale. */
  | { nodeId: string }

const AUTH_CHANGE_KEYS: readonly string[] = ['sessionId', 'userId', 'serverId', 'nodeId']

/** What a Prisma client or transaction offers for raw SQL. */
interface RawSql { $executeRaw (query: TemplateStringsArray, ...values: unknown[]): Promise<number> }

export async function notifyAuthChange (tx: RawSql, change: AuthChange): Promise<void> {
  await tx.$executeRaw`SELECT pg_notify(${AUTH_CHANNEL}, ${JSON.stringify(change)})`
}

/** The longest payload parsed; ours are about 60 bytes. */
const MAX_PAYLOAD = 256

/**
 * Parses a notification payload: exactly one known key holding a canonical (lower-case) id.
 * Anything else (a foreign sender, garbage, a newer format) is undefined, for the feed to ignore.
 */
export function parseAuthChange (payload: string | undefined): AuthChange | undefined {
  if (payload === undefined || payload.length > MAX_PAYLOAD) return undefined
  let v: unknown
  try {
    v = JSON.parse(payload)
  } catch {
    return undefined
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined
  const keys = Object.keys(v)
  if (keys.length !== 1) return undefined
  const key = keys[0] as string
  const id = (v as Record<string, unknown>)[key]
  if (!AUTH_CHANGE_KEYS.includes(key) || !isCanonicalUuid(id)) return undefined
  return { [key]: id } as AuthChange
}
