/**
 * Protocol 1.1 features `console` and `stats` (PROTOCOL.md "Console and stats"): agent -> hub
 * frames, strict like every agent -> hub schema. Neither is an event: the hub buffers and forwards
 * them to panels, never stores them in the event log.
 */
import Type, { type Static, type TString } from 'typebox'
import Format from 'typebox/format'
import {
  MAX_CONSOLE_FRAME_TEXT_BYTES,
  MAX_CONSOLE_LINE_BYTES,
  MAX_CONSOLE_LINES
} from './constants.ts'
import { Uuid } from './ids.ts'
import { isStorableLine } from './text.ts'
import { AgentInstant } from './time.ts'

const Strict = { additionalProperties: false } as const

export const CONSOLE_LINE_FORMAT = 'console-line'

/** One console line: storable text, no CR or LF, at most MAX_CONSOLE_LINE_BYTES UTF-8 bytes. */
export const isConsoleLine = (value: string): boolean =>
  // A UTF-16 code unit is at most 3 UTF-8 bytes: count exactly only when it could matter.
  (value.length * 3 <= MAX_CONSOLE_LINE_BYTES || Buffer.byteLength(value, 'utf8') <= MAX_CONSOLE_LINE_BYTES) &&
  isStorableLine(value)

Format.Set(CONSOLE_LINE_FORMAT, isConsoleLine)

const ConsoleLine = (): TString => Type.String({ maxLength: MAX_CONSOLE_LINE_BYTES, format: CONSOLE_LINE_FORMAT })

// agent -> hub: output lines of one server, in order. `replay: true` marks the resend of the last
// lines after `welcome`: a run of replay frames replaces the hub's buffer and is not forwarded live.
// The total of MAX_CONSOLE_FRAME_TEXT_BYTES is checked by checkConsole.
export const ConsoleMessageSchema = Type.Object({
  type: Type.Literal('console'),
  serverId: Uuid(),
  lines: Type.Array(ConsoleLine(), { minItems: 1, maxItems: MAX_CONSOLE_LINES }),
  replay: Type.Optional(Type.Boolean())
}, Strict)

const Count = (): ReturnType<typeof Type.Integer> => Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })

// agent -> hub: resource usage of one running server, about once per second.
export const StatsMessageSchema = Type.Object({
  type: Type.Literal('stats'),
  serverId: Uuid(),
  at: AgentInstant(),
  // 100 = one core fully busy.
  cpuPercent: Type.Number({ minimum: 0, maximum: 100 * 4096 }),
  // Summed RSS of the process tree.
  memoryBytes: Count(),
  memoryLimitBytes: Type.Optional(Count()),
  diskBytes: Type.Optional(Count()),
  networkRxBytes: Type.Optional(Count()),
  networkTxBytes: Type.Optional(Count()),
  // Since the server's process started.
  uptimeMs: Count(),
  players: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000 }))
}, Strict)

export type ConsoleMessage = Static<typeof ConsoleMessageSchema>
export type StatsMessage = Static<typeof StatsMessageSchema>

/** What the schema cannot say about a `console` frame: a reason, or null when it is fine. */
export function checkConsole (msg: ConsoleMessage): string | null {
  // A UTF-16 code unit is at most 3 UTF-8 bytes: count bytes only when the total could pass.
  let units = 0
  for (const line of msg.lines) units += line.length
  if (units * 3 <= MAX_CONSOLE_FRAME_TEXT_BYTES) return null
  let bytes = 0
  for (const line of msg.lines) bytes += Buffer.byteLength(line, 'utf8')
  return bytes > MAX_CONSOLE_FRAME_TEXT_BYTES
    ? `/lines: must not have more than ${MAX_CONSOLE_FRAME_TEXT_BYTES} bytes of text`
    : null
}
