// Canonical ids (PROTOCOL.md 1.1, "Canonical ids and times"): a UUID in lower case, nothing else.
// PostgreSQL's uuid type matches any spelling, but the hub's in-memory maps (sessions, sockets,
// subscriptions) key by the string: an upper-case id would find the row and miss the socket. So
// every edge (REST params and bodies, agent and panel frames, NOTIFY payloads) refuses any other
// spelling instead of normalising it, and every layer behind the edge can compare strings.
import Type, { type TString } from 'typebox'

/** The only accepted spelling of an id: 8-4-4-4-12 lower-case hex digits. */
export const UUID_PATTERN = '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'

const UUID_RE = new RegExp(UUID_PATTERN)

/** Whether `value` is a canonical (lower-case) UUID. */
export const isCanonicalUuid = (value: unknown): value is string => typeof value === 'string' && UUID_RE.test(value)

/**
 * The schema of every id, shared by the agent and panel protocols and the REST routes. A pattern
 * rather than a format, so that Fastify's Ajv and TypeBox's compiler check it the same way.
 */
export const Uuid = (): TString => Type.String({ pattern: UUID_PATTERN })

/** The one id schema object, shared by every REST route and the panel protocol. */
export const Id: TString = Uuid()
