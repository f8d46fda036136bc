/**
 * One TypeBox schema per agent protocol message; the static types derive from them, so the schema
 * is the single source of truth for both validation and TypeScript.
 *
 * Agent -> hub schemas are strict (`additionalProperties: false`): the hub refuses what it does not
 * understand rather than dropping it silently. Hub -> agent schemas allow additional properties,
 * because PROTOCOL.md lets the hub add fields and older agents must keep working when it does.
 */
import Type, { type Static } from 'typebox'
import { ACTION_TYPES, AGENT_STATUSES, MAX_HELLO_SERVERS, MAX_SEQ } from './constants.ts'
import { Text } from './text.ts'

const Strict = { additionalProperties: false } as const

const Uuid = Type.String({ format: 'uuid' })
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
  seq: Type.Integer({ minimum: 0, maximum: MAX_SEQ })
}, Strict)

// agent -> hub: first frame; the snapshot of every server on the node.
export const HelloMessageSchema = Type.Object({
  type: Type.Literal('hello'),
  // Any integer passes the schema so that a wrong version closes with 4406 (UNSUPPORTED_VERSION),
  // which is terminal, instead of being a BAD_FRAME the agent would retry forever.
  protocol: Type.Integer(),
  agentVersion: Text({ minLength: 1, maxLength: 64 }),
  servers: Type.Array(HelloServerSchema, { maxItems: MAX_HELLO_SERVERS })
}, Strict)

// agent -> hub: one status change; seq strictly increases per server.
export const StatusMessageSchema = Type.Object({
  type: Type.Literal('status'),
  serverId: Uuid,
  status: AgentStatus,
  seq: Seq,
  at: DateTime,
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
  lastSeq: Type.Record(Type.String(), Type.Integer({ minimum: 0, maximum: MAX_SEQ }))
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
  expiresAt: DateTime
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
  'command.result': CommandResultMessageSchema
} as const

export const HUB_MESSAGE_SCHEMAS = {
  welcome: WelcomeMessageSchema,
  'status.ack': StatusAckMessageSchema,
  command: CommandMessageSchema,
  error: ErrorMessageSchema
} as const

// agent -> hub
export const AgentMessageSchema = Type.Union([
  HelloMessageSchema,
  StatusMessageSchema,
  CommandAckMessageSchema,
  CommandResultMessageSchema
])

// hub -> agent
export const HubMessageSchema = Type.Union([
  WelcomeMessageSchema,
  StatusAckMessageSchema,
  CommandMessageSchema,
  ErrorMessageSchema
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
