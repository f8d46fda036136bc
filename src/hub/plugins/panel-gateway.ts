// /panel/v1: the thin WebSocket adapter over the panel core (panel/*). Authentication (a session
// token header, or a single-use ticket in the query) runs in preValidation, before the upgrade,
// so a bad credential gets HTTP 401 and no socket. Committed events arrive from the bus; access
// changes from the auth feed (PostgreSQL LISTEN), so revocations reach every hub's sockets.
import fp from 'fastify-plugin'
import type { FastifyRequest } from 'fastify'
import { CLOSE } from '../../agent-protocol/codes.ts'
import { readEventsForPanel } from '../../db/sql/events.ts'
import { readServerAccess, readSnapshot, readUserAccess } from '../../db/sql/panel.ts'
import { consumeTicket } from '../../db/sql/tickets.ts'
import type { Config } from '../config.ts'
import { RateLimitedError, missingSession, retryLater } from '../errors.ts'
import { createPanelRegistry, type PanelRegistry } from '../panel/panel-registry.ts'
import { createSocketCaps } from '../panel/socket-caps.ts'
import type { PanelAuth, PanelLimits } from '../panel/types.ts'
import { realTimer } from '../timers.ts'
import { hashToken } from '../tokens.ts'
import { bearerToken } from './auth.ts'
import { attachSocket } from './ws-release.ts'
import { registerWebsocket, WsTransport } from './ws-transport.ts'

declare module 'fastify' {
  interface FastifyInstance {
    panels: PanelRegistry
  }
  interface FastifyRequest {
    panelAuth: PanelAuth | null
  }
}

export interface PanelGatewayOptions {
  config: Config
  now: () => Date
}

const MAX_TICKET_LENGTH = 128
/** Seconds a client over a socket cap is asked to wait: sockets are long-lived, slots free slowly. */
const CAP_RETRY_AFTER_S = 10

export function panelLimits (config: Config): PanelLimits {
  return {
    heartbeatMs: config.heartbeatMs,
    maxFrameBytes: config.maxFrameBytes,
    ratePerSecond: config.panelRatePerSecond,
    burst: config.panelBurst,
    maxBadFrames: 20,
    maxLimitedFrames: 100,
    highWaterBytes: config.panelHighWaterBytes,
    maxStallMs: config.panelMaxStallMs,
    drainCheckMs: 50,
    maxPendingEvents: 10_000,
    replayBatch: 1_000,
    // Room for the high-water mark plus a few snapshots: events coalesce long before the bound.
    maxBufferedBytes: Math.max(config.panelMaxBufferedBytes, 2 * config.panelHighWaterBytes),
    // Ephemeral frames (console, stats) stay well below the mark, so they never push events into
    // coalescing (connection/outbox.ts).
    ephemeralBytes: Math.floor(config.panelHighWaterBytes / 4)
  }
}

export default fp<PanelGatewayOptions>(async (app, { config, now }) => {
  const { pool } = app.db
  const registry = createPanelRegistry({
    ...(app.hasDecorator('meters') ? { frames: app.meters.frames.panel } : {}),
    store: {
      snapshot: async (serverIds, nodeIds) => await readSnapshot(pool, serverIds, nodeIds),
      replay: async (after, upTo, serverIds, nodeIds, presenceNodeIds, limit) => await readEventsForPanel(pool, after, upTo, serverIds, nodeIds, presenceNodeIds, limit),
      serverAccess: async ids => await readServerAccess(pool, ids),
      userAccess: async userId => await readUserAccess(pool, userId),
      activeSessions: async ids => await app.repos.sessions.activeIds(ids, now())
    },
    limits: panelLimits(config),
    now: () => now().getTime(),
    setTimer: realTimer,
    log: app.log,
    streams: {
      hub: app.consoleHub,
      features: ['console', 'stats'],
      // console.send: the REST route's COMMAND (src/hub/routes/actions.ts), answered as frames.
      // COMMAND's own budget is shared with the route (app.actions.limits).
      send: async (principal, serverId, input) => {
        const { store, dispatcher, limits } = app.actions
        const ref = (await readServerAccess(pool, [serverId])).get(serverId)
        if (ref === undefined) return { ok: false, code: 'NOT_FOUND', message: 'server not found' }
        const retryAfterMs = limits.take({ userId: principal.userId, serverId, action: 'COMMAND' })
        if (retryAfterMs > 0) return { ok: false, code: 'RATE_LIMITED', message: 'too much console input; slow down', retryAfterMs }
        const out = await store.create({ serverId, userId: principal.userId, action: 'COMMAND', input, idempotencyKey: null, dispatchTo: dispatcher.holds(ref.nodeId) ? ref.nodeId : null })
        switch (out.kind) {
          case 'created': case 'repeated': return { ok: true, actionId: out.row.id }
          case 'not-running': return { ok: false, code: 'CONFLICT', message: `the server is ${out.status}; console input needs it RUNNING or STARTING` }
          case 'unsupported': return { ok: false, code: 'CONFLICT', message: `the server's node has not negotiated the ${out.feature} feature (FEATURE_UNSUPPORTED)` }
          case 'conflict': return { ok: false, code: 'CONFLICT', message: 'conflict' }
          case 'refused': return { ok: false, code: 'NOT_READY', message: 'the input could not be stored; retry shortly' }
        }
      }
    }
  })
  app.decorate('panels', registry)
  app.decorateRequest('panelAuth', null)

  // The agent gateway registers the WebSocket plugin when it is there; either may come first.
  await registerWebsocket(app, config.maxFrameBytes)

  const unsubscribe = app.bus.subscribe(events => registry.publish(events), () => registry.gap())
  const unsubscribeAuth = app.authFeed.subscribe({
    onChange: async change => await registry.apply(change),
    onReconnect: async () => await registry.recheckAll()
  })

  // Expired tickets are pruned by a scheduled job (plugins/retention.ts).
  app.addHook('preClose', async () => {
    registry.closeAll(CLOSE.GOING_AWAY, 'hub shutting down')
  })
  app.addHook('onClose', async () => {
    unsubscribe()
    unsubscribeAuth()
  })

  const caps = createSocketCaps({ perSession: config.panelMaxSocketsPerSession, perAddress: config.panelMaxSocketsPerAddress })
  const reserved = new WeakSet<object>()

  const authenticate = async (request: FastifyRequest<{ Querystring: { ticket?: string } }>) => {
    const token = bearerToken(request.headers.authorization)
    const ticket = (request.query as { ticket?: unknown }).ticket
    let session = null
    if (token !== undefined) {
      session = await app.repos.sessions.findActive(hashToken(token), now())
    } else if (typeof ticket === 'string' && ticket.length > 0 && ticket.length <= MAX_TICKET_LENGTH) {
      const sessionId = await consumeTicket(pool, hashToken(ticket), now())
      if (sessionId !== undefined) session = await app.repos.sessions.findActiveById(sessionId, now())
    }
    if (session === null) throw missingSession()
    // Over a cap: 429 before the upgrade. A slot is held by the TCP socket, released when it closes.
    const tcp = request.raw.socket
    if (!reserved.has(tcp)) {
      const release = caps.reserve(session.id, request.ip)
      if (release === undefined) {
        throw retryLater(new RateLimitedError('too many panel sockets for this session or address; close some first'), CAP_RETRY_AFTER_S * 1000)
      }
      reserved.add(tcp)
      tcp.once('close', release)
    }
    request.panelAuth = {
      sessionId: session.id,
      expiresAt: session.expiresAt,
      principal: { userId: session.userId, role: session.role, permissions: new Set(session.permissions) }
    }
  }

  app.get('/panel/v1', { websocket: true, preValidation: authenticate }, (socket, request) => {
    const auth = request.panelAuth as PanelAuth
    const log = request.log.child({ userId: auth.principal.userId })
    const raw = request.raw.socket
    const session = registry.open(auth, new WsTransport(socket, raw), log)
    attachSocket(socket, raw, session, err => log.warn({ err }, 'panel socket error'))
  })
}, { name: 'hub-panel-gateway', dependencies: ['hub-database', 'hub-events'] })
