/**
 * Protocol 1.1 feature `provision` (PROTOCOL.md "Server configuration"): the hub pushes each
 * server's resolved configuration to its node's agent, the agent acknowledges the revision it
 * applied, and the hub tells it which servers are gone. Hub -> agent schemas tolerate added
 * fields like every hub -> agent schema; the agent -> hub ack is strict.
 */
import Type, { type Static } from 'typebox'
import { MAX_CONFIG_REVISION, STOP_SIGNALS, VARIABLE_NAME_PATTERN } from './constants.ts'
import { Uuid } from './ids.ts'
import { Line, Text } from './text.ts'

const Strict = { additionalProperties: false } as const

export const Revision = (): ReturnType<typeof Type.Integer> =>
  Type.Integer({ minimum: 1, maximum: MAX_CONFIG_REVISION })

// hub -> agent (inside `server.config`): how to stop the server. `command`: a line written to its
// console input; `signal`: one of STOP_SIGNALS (checked by checkServerConfig). After `graceS`
// (default 30) the agent sends SIGTERM to the process group, then SIGKILL 10 s later.
export const StopSchema = Type.Object({
  type: Type.Enum(['command', 'signal']),
  value: Line({ minLength: 1, maxLength: 256 }),
  graceS: Type.Optional(Type.Integer({ minimum: 1, maximum: 3600 }))
})

// hub -> agent (inside `server.config`): restart a crashed server at most maxRestarts times per
// windowS seconds.
export const AutoRestartSchema = Type.Object({
  enabled: Type.Boolean(),
  maxRestarts: Type.Integer({ minimum: 0 }),
  windowS: Type.Integer({ minimum: 1 })
})

// hub -> agent: the server's configuration at `revision`, resolved (placeholders replaced,
// environment merged). Sent after `welcome` for every server whose hello revision is absent or
// differs, then on every change (at-least-once). Takes effect at the server's next start.
export const ServerConfigMessageSchema = Type.Object({
  type: Type.Literal('server.config'),
  serverId: Uuid(),
  revision: Revision(),
  name: Text({ minLength: 1, maxLength: 256 }),
  port: Type.Integer({ minimum: 0, maximum: 65535 }),
  // The command line, run with /bin/sh -c.
  startup: Text({ minLength: 1, maxLength: 65536 }),
  stop: StopSchema,
  doneRegex: Type.Optional(Text({ maxLength: 1024 })),
  // A shell script run by INSTALL.
  install: Type.Optional(Text({ maxLength: 65536 })),
  // Keys match VARIABLE_NAME_PATTERN (checked by checkServerConfig).
  environment: Type.Record(Type.String(), Text({ maxLength: 65536 })),
  memoryLimitMb: Type.Optional(Type.Integer({ minimum: 1 })),
  autoRestart: AutoRestartSchema
})

// hub -> agent: this server is not (or no longer) on the node: stop it and remove its files.
export const ServerRemovedMessageSchema = Type.Object({
  type: Type.Literal('server.removed'),
  serverId: Uuid()
})

// agent -> hub: the agent applied `revision` of the server's configuration. A stale revision is
// ignored; an unknown server gets NOT_YOUR_SERVER.
export const ServerConfigAckMessageSchema = Type.Object({
  type: Type.Literal('server.config.ack'),
  serverId: Uuid(),
  revision: Revision()
}, Strict)

export type ServerConfigMessage = Static<typeof ServerConfigMessageSchema>
export type ServerRemovedMessage = Static<typeof ServerRemovedMessageSchema>
export type ServerConfigAckMessage = Static<typeof ServerConfigAckMessageSchema>
export type StopConfig = Static<typeof StopSchema>
export type AutoRestartConfig = Static<typeof AutoRestartSchema>

const VARIABLE_NAME_RE = new RegExp(VARIABLE_NAME_PATTERN)

/** What the schema cannot say about a `server.config`: a reason, or null when it is fine. */
export function checkServerConfig (msg: ServerConfigMessage): string | null {
  if (msg.stop.type === 'signal' && !(STOP_SIGNALS as readonly string[]).includes(msg.stop.value)) {
    return `/stop/value: must be one of ${STOP_SIGNALS.join(', ')}`
  }
  for (const name of Object.keys(msg.environment)) {
    if (!VARIABLE_NAME_RE.test(name)) return '/environment: names must match ' + VARIABLE_NAME_PATTERN
  }
  return null
}
