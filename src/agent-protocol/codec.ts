/**
 * Frame <-> message conversion for both ends of the agent protocol. The hub decodes with
 * decodeAgentMessage, agents (and the simulator) with decodeHubMessage; both encode with encode.
 *
 * Decoding never throws: bad input is an expected event on a public socket, so it comes back as
 * `{ ok: false, error }` with a reason short and safe enough to send back in a BAD_FRAME `error`.
 * The pipeline is ordered cheapest-first: size, UTF-8, nesting depth, JSON.parse, prototype keys,
 * then one schema picked by `type`, then the checks a schema cannot express (a console frame's
 * total bytes), also picked by `type`. Validating against the whole union instead would run every
 * branch on a miss and report "must match a schema in anyOf", which helps nobody.
 */
import type { TSchema } from 'typebox'
import { Compile } from 'typebox/compile'
import type { TLocalizedValidationError } from 'typebox/error'
import { safeParse } from './safe-json.ts'
import { ERROR } from './codes.ts'
import { UUID_PATTERN } from './ids.ts'
import {
  AGENT_MESSAGE_CHECKS,
  AGENT_MESSAGE_SCHEMAS,
  HUB_MESSAGE_CHECKS,
  HUB_MESSAGE_SCHEMAS,
  type MessageCheck,
  type AgentMessage,
  type HubMessage
} from './messages.ts'

/** PROTOCOL.md: frames are at most 64 KiB unless configured otherwise. */
export const DEFAULT_MAX_BYTES = 64 * 1024

/** The deepest message today (`hello`) nests 3 levels; the rest is room for fields added later. */
export const DEFAULT_MAX_DEPTH = 16

export interface DecodeLimits {
  /** Largest frame accepted, in UTF-8 bytes. */
  maxBytes?: number
  /** Deepest nesting of arrays and objects accepted. */
  maxDepth?: number
}

export interface DecodeError {
  code: typeof ERROR.BAD_FRAME
  reason: string
}

export type DecodeResult<T> =
  | { ok: true, msg: T }
  | { ok: false, error: DecodeError }

/** The part of a compiled TypeBox validator the codec uses, plus the type's extra check. */
interface MessageValidator {
  Check (value: unknown): boolean
  Errors (value: unknown): TLocalizedValidationError[]
  check?: (msg: unknown) => string | null
}

// Compiled once at module load: compiling generates code and is far too slow per frame. A Map, not
// an object, so that a `type` such as "constructor" or "__proto__" cannot hit Object.prototype.
function compileAll (
  schemas: Record<string, TSchema>,
  checks: Readonly<Record<string, MessageCheck>> = {}
): ReadonlyMap<string, MessageValidator> {
  return new Map(Object.entries(schemas).map(([type, schema]) => {
    const compiled = Compile(schema)
    const check = Object.hasOwn(checks, type) ? checks[type] as (msg: unknown) => string | null : undefined
    const validator: MessageValidator = {
      Check: (value) => compiled.Check(value),
      Errors: (value) => compiled.Errors(value),
      check
    }
    return [type, validator]
  }))
}

const AGENT_VALIDATORS = compileAll(AGENT_MESSAGE_SCHEMAS, AGENT_MESSAGE_CHECKS)
const HUB_VALIDATORS = compileAll(HUB_MESSAGE_SCHEMAS, HUB_MESSAGE_CHECKS)

// fatal: invalid UTF-8 is refused, not silently replaced with U+FFFD. ignoreBOM: keep a BOM so
// JSON.parse refuses it, exactly as it does for a string frame that starts with one.
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

// Peer-controlled text (a type name, a property name) is quoted in reasons; bound its length.
const MAX_QUOTED = 64

/** Decodes a frame sent by an agent (hub side). */
export function decodeAgentMessage (raw: string | Uint8Array, limits?: DecodeLimits): DecodeResult<AgentMessage> {
  return decode(raw, limits, AGENT_VALIDATORS) as DecodeResult<AgentMessage>
}

/** Decodes a frame sent by the hub (agent side). */
export function decodeHubMessage (raw: string | Uint8Array, limits?: DecodeLimits): DecodeResult<HubMessage> {
  return decode(raw, limits, HUB_VALIDATORS) as DecodeResult<HubMessage>
}

/**
 * A decoder with the same pipeline and reasons for another set of message schemas (the panel
 * protocol uses it), compiled once here.
 */
export function createDecoder<T> (
  schemas: Record<string, TSchema>,
  checks?: Readonly<Record<string, MessageCheck>>
): (raw: string | Uint8Array, limits?: DecodeLimits) => DecodeResult<T> {
  const validators = compileAll(schemas, checks)
  return (raw, limits) => decode(raw, limits, validators) as DecodeResult<T>
}

/** Encodes a message of either direction as a text frame. */
export function encode (msg: AgentMessage | HubMessage): string {
  return JSON.stringify(msg)
}

function decode (
  raw: string | Uint8Array,
  limits: DecodeLimits | undefined,
  validators: ReadonlyMap<string, MessageValidator>
): DecodeResult<unknown> {
  const maxBytes = limits?.maxBytes ?? DEFAULT_MAX_BYTES
  const maxDepth = limits?.maxDepth ?? DEFAULT_MAX_DEPTH

  let text: string
  if (typeof raw === 'string') {
    // A UTF-16 code unit is 1 to 3 UTF-8 bytes, so the exact byte count is needed only in between.
    if (raw.length > maxBytes || (raw.length * 3 > maxBytes && Buffer.byteLength(raw, 'utf8') > maxBytes)) {
      return fail('frame too large')
    }
    text = raw
  } else {
    if (raw.byteLength > maxBytes) return fail('frame too large')
    try {
      text = UTF8.decode(raw)
    } catch {
      return fail('invalid UTF-8')
    }
  }

  const parsed = safeParse(text, { maxDepth })
  if (!parsed.ok) return fail(parsed.reason)

  const value = parsed.value
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return fail('frame must be a JSON object')
  }
  const type: unknown = (value as { type?: unknown }).type
  if (type === undefined) return fail('/type: required')
  if (typeof type !== 'string') return fail('/type: must be string')

  const validator = validators.get(type)
  if (validator === undefined) return fail(`unknown type ${quote(type)}`)
  if (!validator.Check(value)) return fail(describe(validator.Errors(value)))
  const refused = validator.check?.(value) ?? null
  if (refused !== null) return fail(refused)
  return { ok: true, msg: value }
}

function fail (reason: string): { ok: false, error: DecodeError } {
  return { ok: false, error: { code: ERROR.BAD_FRAME, reason } }
}

/**
 * One line naming the first schema error and where it is, as a JSON pointer: "/seq: must be
 * integer", "/servers/0/serverId: required", "/extra: unexpected property".
 */
function describe (errors: TLocalizedValidationError[]): string {
  // With additionalProperties: false, TypeBox reports each extra property twice: a "schema is
  // false" error on the property, then the clearer additionalProperties error on its parent.
  const error = errors.find((e) => e.keyword !== 'boolean') ?? errors[0]
  if (error === undefined) return 'invalid frame'
  const at = error.instancePath
  switch (error.keyword) {
    case 'required':
      return `${at}/${pointerToken(error.params.requiredProperties[0] ?? '')}: required`
    case 'additionalProperties':
      return `${at}/${pointerToken(error.params.additionalProperties[0] ?? '')}: unexpected property`
    case 'enum':
      return `${at || '/'}: must be one of ${error.params.allowedValues.join(', ')}`
    case 'pattern':
      // The id pattern is long and says less than its name (ids.ts).
      if (error.params.pattern === UUID_PATTERN) return `${at || '/'}: must be a lower-case UUID`
      return `${at || '/'}: ${error.message}`
    default:
      return `${at || '/'}: ${error.message}`
  }
}

/** A property name as a JSON pointer token (RFC 6901 escapes), bounded in length. */
function pointerToken (name: string): string {
  return truncate(name).replaceAll('~', '~0').replaceAll('/', '~1')
}

function quote (text: string): string {
  return JSON.stringify(truncate(text))
}

function truncate (text: string): string {
  return text.length > MAX_QUOTED ? `${text.slice(0, MAX_QUOTED)}...` : text
}
