// The panel protocol (PROTOCOL.md "Panel protocol"): one schema per panel -> hub message, the
// hub -> panel shapes, error codes and limits. Decoding reuses the agent codec's pipeline (size,
// UTF-8, depth, JSON, prototype keys, schema), so bad input gets the same precise reasons.
import Type, { type Static } from 'typebox'
import { createDecoder } from '../../agent-protocol/codec.ts'
import { Id as Uuid } from '../../agent-protocol/ids.ts'

/** PROTOCOL.md: at most 1,000 ids per frame, 10,000 servers per connection. */
export const MAX_IDS_PER_FRAME = 1_000
export const MAX_SERVERS_PER_CONNECTION = 10_000

const Ids = Type.Array(Uuid, { maxItems: MAX_IDS_PER_FRAME })
/** A client-chosen request id, echoed back. */
const RequestId = Type.Union([Type.String({ minLength: 1, maxLength: 64 }), Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })])
/** An event id: a decimal integer as a string (ids outgrow 2^53 in theory). */
export const EventId = Type.String({ pattern: '^(0|[1-9][0-9]{0,18})$' })

export const PANEL_MESSAGE_SCHEMAS = {
  // panel -> hub: watch these servers, or all servers of these nodes; replay after `since`
  subscribe: Type.Object({
    type: Type.Literal('subscribe'),
    id: RequestId,
    servers: Type.Optional(Ids),
    nodes: Type.Optional(Ids),
    since: Type.Optional(EventId)
  }, { additionalProperties: false }),
  // panel -> hub: stop watching
  unsubscribe: Type.Object({
    type: Type.Literal('unsubscribe'),
    id: RequestId,
    servers: Type.Optional(Ids),
    nodes: Type.Optional(Ids)
  }, { additionalProperties: false }),
  // panel -> hub: liveness
  ping: Type.Object({ type: Type.Literal('ping'), id: RequestId }, { additionalProperties: false })
}

export type SubscribeMessage = Static<typeof PANEL_MESSAGE_SCHEMAS.subscribe>
export type UnsubscribeMessage = Static<typeof PANEL_MESSAGE_SCHEMAS.unsubscribe>
export type PingMessage = Static<typeof PANEL_MESSAGE_SCHEMAS.ping>
export type PanelMessage = SubscribeMessage | UnsubscribeMessage | PingMessage
export type RequestIdValue = SubscribeMessage['id']

export const decodePanelMessage = createDecoder<PanelMessage>(PANEL_MESSAGE_SCHEMAS)

/** Codes of hub -> panel `error` frames. */
export const PANEL_ERROR = {
  /** The caller may not view a server or node named (or, without `servers.view`, it does not exist:
   *  the two are not told apart, so nothing leaks). Also ends subscriptions when a permission is
   *  revoked, with `data.servers` / `data.nodes` listing them. */
  FORBIDDEN: 'FORBIDDEN',
  /** A server or node named does not exist (only said to callers who may view every server), or a
   *  subscribed server was deleted (`data.servers` lists them). */
  NOT_FOUND: 'NOT_FOUND',
  /** Unparsable or schema-invalid frame, `since` from the future, or a limit exceeded. Repeated bad
   *  frames end in close 4400. */
  BAD_FRAME: 'BAD_FRAME',
  /** Frame dropped for sending too fast; close 4429 follows if it goes on. */
  RATE_LIMITED: 'RATE_LIMITED',
  /** The hub could not read the subscription (database trouble); nothing changed. Retry later. */
  INTERNAL: 'INTERNAL'
} as const

// hub -> panel frames
export interface ServerSnapshot { serverId: string, name: string, nodeId: string, status: string, updatedAt: Date | string }
export type HubToPanel =
  | { type: 'ready', userId: string, expiresAt: Date | string }
  | { type: 'subscribed', id: RequestIdValue, servers: ServerSnapshot[], lastEventId: string }
  | { type: 'resync', reason: string }
  | { type: 'pong', id: RequestIdValue }
  | { type: 'error', id?: RequestIdValue, code: string, message: string, data?: { servers?: string[], nodes?: string[] } }
