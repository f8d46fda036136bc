/**
 * One TypeBox schema per agent protocol message; the static types derive from them, so the schema
 * is the single source of truth for both validation and TypeScript.
 *
 * Agent -> hub schemas are strict (`additionalProperties: false`): the hub refuses what it does not
 * understand rather than dropping it silently. Hub -> agent schemas allow additional properties,
 * because PROTOCOL.md lets the hub add fields and older agents must keep working when it does.
 * Ids are canonical (lower-case) UUIDs in both directions; an agent's `at` is an `agent-instant`.
 *
 * Protocol 1.1 frames live beside this file, by feature: provision-messages.ts and
 * console-messages.ts. The tables at the end list every message of both versions; features.ts
 * says which feature a frame type needs.
 */
import Type, { type Static } from 'typebox'
import {
  ACTION_TYPES,
  AGENT_STATUSES,
  MAX_COMMAND_INPUT_LENGTH,
  MAX_HELLO_SERVERS,
  MAX_SEQ
} from './constants.ts'
import { MAX_FEATURE_NAME_LENGTH, MAX_FEATURES } from './features.ts'
import { Uuid as CanonicalUuid } from './ids.ts'
import { Line, Text } from './text.ts'
import { AgentInstant } from './time.ts'
import {
  checkServerConfig,
  Revision,
  ServerConfigAckMessageSchema,
  ServerConfigMessageSchema,
  ServerRemovedMessageSchema,
  type ServerConfigMessage
} from './provision-messages.ts'
import {
  checkConsole,
  ConsoleMessageSchema,
  StatsMessageSchema,
  type ConsoleMessage
} from './console-messages.ts'

const Strict = { additionalProperties: false } as const

const Uuid = CanonicalUuid()
// Instants the hub sends; an agent's own instants are AgentInstant (from 2000-01-01, no leap second).
const DateTime = Type.String({ format: 'date-time' })
// UNKNOWN is absent on purpose: only the hub may set it.
const AgentStatus = Type.Enum(AGENT_STATUSES)
const Seq = Type.Integer({ minimum: 1, maximum: MAX_SEQ })

// ---- agent -> hub ------------------------------------------------------------------------------

// agent -> hub (inside `hello`): one server of the snapshot.
export const HelloServerSchema = Type.Object({
  serverId: Uuid,
  status: AgentStatus,
  // 0 = this server never reported a status on the agent.
  seq: Type.Integer({ minimum: 0, maximum: MAX_SEQ }),
  // 1.1: the configuration revision the agent runs for this server (absent: none).
  configRevision: Type.Optional(Revision())
}, Strict)

// Feature names: unknown ones are ignored, so any short storable string passes.
const FeatureNames = Type.Array(Text({ minLength: 1, maxLength: MAX_FEATURE_NAME_LENGTH }), { maxItems: MAX_FEATURES })

// agent -> hub: first frame; the snapshot of every server on the node.
export const HelloMessageSchema = Type.Object({
  type: Type.Literal('hello'),
  // Any integer passes the schema so that a wrong version closes with 4406 (UNSUPPORTED_VERSION),
  // which is terminal, instead of being a BAD_FRAME the agent would retry forever.
  protocol: Type.Integer(),
  agentVersion: Text({ minLength: 1, maxLength: 64 }),
  servers: Type.Array(HelloServerSchema, { maxItems: MAX_HELLO_SERVERS }),
  // 1.1: the features the agent speaks; absent for a v1 agent.
  features: Type.Optional(FeatureNames)
}, Strict)

// agent -> hub: one status change; seq strictly increases per server.
export const StatusMessageSchema = Type.Object({
  type: Type.Literal('status'),
  serverId: Uuid,
  status: AgentStatus,
  seq: Seq,
  at: AgentInstant(),
  reason: Type.Optional(Text({ maxLength: 256 }))
}, Strict)

// agent -> hub: the agent holds the command and will execute it.
export const CommandAckMessageSchema = Type.Object({
  type: Type.Literal('command.ack'),
  commandId: Uuid
}, Strict)

// agent -> hub: the command finished; `error` says why when `ok` is false.
export const CommandResultMessageSchema = Type.Object({
  type: Type.Literal('command.result'),
  commandId: Uuid,
  ok: Type.Boolean(),
  error: Type.Optional(Type.Object({
    code: Text({ maxLength: 64 }),
    message: Text({ maxLength: 1024 })
  }, Strict))
}, Strict)

// ---- hub -> agent ------------------------------------------------------------------------------

// hub -> agent: the hello snapshot is committed; lastSeq is the stored seq per server.
export const WelcomeMessageSchema = Type.Object({
  type: Type.Literal('welcome'),
  protocol: Type.Integer(),
  nodeId: Uuid,
  heartbeatMs: Type.Integer({ minimum: 1 }),
  lastSeq: Type.Record(Type.String(), Type.Integer({ minimum: 0, maximum: MAX_SEQ })),
  // 1.1: present exactly when hello.features was: the negotiated features (possibly []).
  features: Type.Optional(Type.Array(Type.String()))
})

// hub -> agent: the status (or its duplicate) is durably recorded.
export const StatusAckMessageSchema = Type.Object({
  type: Type.Literal('status.ack'),
  serverId: Uuid,
  seq: Seq
})

// hub -> agent: execute this; may come again after a reconnect, so agents dedupe by commandId.
export const CommandMessageSchema = Type.Object({
  type: Type.Literal('command'),
  commandId: Uuid,
  serverId: Uuid,
  action: Type.Enum(ACTION_TYPES),
  issuedAt: DateTime,
  expiresAt: DateTime,
  // 1.1: for COMMAND only, the line to write (plus a newline) to the server's console input.
  input: Type.Optional(Line({ minLength: 1, maxLength: MAX_COMMAND_INPUT_LENGTH }))
})

// hub -> agent: a frame was refused. `code` is a plain string, not the ErrorCode enumeration, so
// agents tolerate codes added later.
export const ErrorMessageSchema = Type.Object({
  type: Type.Literal('error'),
  code: Type.String(),
  message: Type.String(),
  ref: Type.Optional(Type.String())
})

// ---- unions, discriminated by `type` -----------------------------------------------------------

/** Each message schema by its `type`; the codec compiles and dispatches from these tables. */
export const AGENT_MESSAGE_SCHEMAS = {
  hello: HelloMessageSchema,
  status: StatusMessageSchema,
  'command.ack': CommandAckMessageSchema,
  'command.result': CommandResultMessageSchema,
  console: ConsoleMessageSchema,
  stats: StatsMessageSchema,
  'server.config.ack': ServerConfigAckMessageSchema
} as const

export const HUB_MESSAGE_SCHEMAS = {
  welcome: WelcomeMessageSchema,
  'status.ack': StatusAckMessageSchema,
  command: CommandMessageSchema,
  error: ErrorMessageSchema,
  'server.config': ServerConfigMessageSchema,
  'server.removed': ServerRemovedMessageSchema
} as const

/**
 * Checks the schemas cannot express, by `type`, run by the codec after the schema passed: each
 * returns a BAD_FRAME reason, or null when the message is fine.
 */
export type MessageCheck = (msg: never) => string | null

export const AGENT_MESSAGE_CHECKS: Readonly<Record<string, MessageCheck>> = {
  console: (msg: ConsoleMessage) => checkConsole(msg)
}

export const HUB_MESSAGE_CHECKS: Readonly<Record<string, MessageCheck>> = {
  'server.config': (msg: ServerConfigMessage) => checkServerConfig(msg)
}

// agent -> hub
export const AgentMessageSchema = Type.Union([
  HelloMessageSchema,
  StatusMessageSchema,
  CommandAckMessageSchema,
  CommandResultMessageSchema,
  ConsoleMessageSchema,
  StatsMessageSchema,
  ServerConfigAckMessageSchema
])

// hub -> agent
export const HubMessageSchema = Type.Union([
  WelcomeMessageSchema,
  StatusAckMessageSchema,
  CommandMessageSchema,
  ErrorMessageSchema,
  ServerConfigMessageSchema,
  ServerRemovedMessageSchema
])

export type HelloServer = Static<typeof HelloServerSchema>
export type HelloMessage = Static<typeof HelloMessageSchema>
export type StatusMessage = Static<typeof StatusMessageSchema>
export type CommandAckMessage = Static<typeof CommandAckMessageSchema>
export type CommandResultMessage = Static<typeof CommandResultMessageSchema>
export type AgentMessage = Static<typeof AgentMessageSchema>
export type AgentMessageType = AgentMessage['type']

export type WelcomeMessage = Static<typeof WelcomeMessageSchema>
export type StatusAckMessage = Static<typeof StatusAckMessageSchema>
export type CommandMessage = Static<typeof CommandMessageSchema>
export type ErrorMessage = Static<typeof ErrorMessageSchema>
export type HubMessage = Static<typeof HubMessageSchema>
export type HubMessageType = HubMessage['type']
