/**
 * The one error class of the agent client. `code` is either the client's own
 * (UNKNOWN_SERVER, ILLEGAL_TRANSITION, OUTBOX_FULL, ACK_TIMEOUT, CLIENT_CLOSED, BAD_STATE,
 * NOT_CONNECTED, HANDSHAKE_TIMEOUT, UPGRADE_REFUSED, CONNECT_FAILED) or, when the hub refused a
 * status with an `error` frame, the hub's code (for example ILLEGAL_TRANSITION, NOT_YOUR_SERVER).
 */
export interface AgentClientErrorDetails {
  /** HTTP status of a refused upgrade (401 for a bad token). */
  statusCode?: number
  /** WebSocket close code of the connection that ended. */
  closeCode?: number
  /** `ref` of the hub's `error` frame: "<serverId>:<seq>". */
  ref?: string
}

export class AgentClientError extends Error {
  override name = 'AgentClientError'
  readonly code: string
  readonly statusCode: number | undefined
  readonly closeCode: number | undefined
  readonly ref: string | undefined

  constructor (code: string, message: string, details: AgentClientErrorDetails = {}) {
    super(message)
    this.code = code
    this.statusCode = details.statusCode
    this.closeCode = details.closeCode
    this.ref = details.ref
  }
}
