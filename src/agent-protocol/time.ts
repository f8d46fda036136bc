// An agent's instants (`status.at`, `stats.at`), PROTOCOL.md 1.1: a valid RFC 3339 instant from
// 2000-01-01 on. JSON Schema's `date-time` accepts a leap second (`23:59:60Z`) and RFC 9557
// suffixes (`[Europe/Paris]`), for both of which Date.parse gives NaN, and PostgreSQL refused the
// whole group-committed batch that carried one. The `agent-instant` format accepts only what
// Date.parse reads, so the hub can parse `at` after decoding without checking again. An instant
// in the future passes the codec: the hub clamps it to its own clock.
import Type, { type TString } from 'typebox'
import Format, { IsDateTime } from 'typebox/format'

export const INSTANT_FORMAT = 'agent-instant'

/** The earliest instant an agent may report: 2000-01-01T00:00:00Z. */
export const MIN_AGENT_INSTANT_MS = Date.UTC(2000, 0, 1)

// RFC 3339 without the parts Date.parse does not read: seconds 00-59 only, Z or a numeric offset.
const INSTANT_RE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:[0-5]\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:\d\d)$/

/** Milliseconds since the epoch of an agent's instant, or null when it is not one. */
export function parseAgentInstant (value: string): number | null {
  if (!INSTANT_RE.test(value) || !IsDateTime(value)) return null
  const ms = Date.parse(value)
  return Number.isFinite(ms) && ms >= MIN_AGENT_INSTANT_MS ? ms : null
}

Format.Set(INSTANT_FORMAT, (value) => parseAgentInstant(value) !== null)

/** The schema of an agent-sent instant. */
export const AgentInstant = (): TString => Type.String({ format: INSTANT_FORMAT })
