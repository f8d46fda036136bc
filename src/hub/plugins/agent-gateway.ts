// /agent/v1: the thin WebSocket adapter over the realtime core (agents/*). Authentication runs
// in preValidation, before the upgrade, so a bad token gets HTTP 401 and no socket.
import fp from 'fastify-plugin'
import websocket from '@fastify/websocket'
import type { FastifyRequest } from 'fastify'
import { CLOSE } from '../../agent-protocol/index.ts'
import type { AgentTokens } from '../agent-tokens.ts'
import { createAgentRegistry, type AgentRegistry } from '../agents/agent-registry.ts'
import { createAgentSession } from '../agents/agent-session.ts'
import { reconcileHello } from '../agents/hello.ts'
import { createPresenceWriter } from '../agents/presence.ts'
import { createStatusIngest, type StatusIngest } from '../agents/status-ingest.ts'
import type { Config } from '../config.ts'
import { UnauthorizedError } from '../errors.ts'
import { bearerToken } from './auth.ts'

declare module 'fastify' {
  interface FastifyInstance {
    agents: AgentRegistry
    ingest: StatusIngest
  }
  interface FastifyRequest {
    agentNodeId: string | null
  }
}

export interface AgentGatewayOptions {
  config: Config
  tokens: AgentTokens
}

const timer = (fn: () => void, ms: number) => {
  const t = setTimeout(fn, ms)
  return { cancel: () => clearTimeout(t) }
}

export default fp<AgentGatewayOptions>(async (app, { config, tokens }) => {
  const { pool } = app.db
  const nodes = app.repos.nodes
  const ingest = createStatusIngest({ pool, lanes: Math.max(1, Math.floor(config.dbPoolMax / 2)), log: app.log })
  const presence = createPresenceWriter(pool)
  const registry = createAgentRegistry({
    graceMs: 2 * config.heartbeatMs,
    setConnected: presence.setConnected,
    markLost: presence.markLost,
    setTimer: timer,
    log: app.log
  })
  app.decorate('agents', registry)
  app.decorate('ingest', ingest)
  app.decorateRequest('agentNodeId', null)

  await app.register(websocket, { options: { maxPayload: config.maxFrameBytes } })

  app.addHook('onReady', async () => {
    const connected = await app.db.prisma.node.findMany({ where: { connected: true }, select: { id: true } })
    registry.expectReturn(connected.map(n => n.id))
  })
  // preClose: before Fastify closes the HTTP server, so agents get 1001 rather than a reset.
  app.addHook('preClose', async () => {
    registry.closeAll(CLOSE.GOING_AWAY, 'hub shutting down')
    await ingest.drain()
    await presence.drain()
  })

  const authenticate = async (request: FastifyRequest) => {
    const token = bearerToken(request.headers.authorization)
    const claims = token === undefined ? undefined : await tokens.verify(token)
    if (claims === undefined || await nodes.tokenVersion(claims.nodeId) !== claims.version) {
      throw new UnauthorizedError('a valid agent token is required')
    }
    request.agentNodeId = claims.nodeId
  }

  app.get('/agent/v1', { websocket: true, preValidation: authenticate }, (socket, request) => {
    const nodeId = request.agentNodeId as string
    const log = request.log.child({ nodeId })
    const session = createAgentSession({
      nodeId,
      transport: {
        send: frame => socket.send(frame),
        close: (code, reason) => socket.close(code, reason),
        ping: () => socket.ping()
      },
      limits: {
        heartbeatMs: config.heartbeatMs,
        helloTimeoutMs: config.helloTimeoutMs,
        maxFrameBytes: config.maxFrameBytes,
        ratePerSecond: config.agentRatePerSecond,
        burst: config.agentBurst,
        maxBadFrames: 20,
        maxLimitedFrames: 1_000
      },
      now: Date.now,
      setTimer: timer,
      hello: async msg => await reconcileHello(pool, nodeId, msg.servers, new Date()),
      submit: async report => await ingest.submit(report),
      reply: async reply => await app.actions.store.reply(reply),
      onReady: () => {
        app.actions.dispatcher.nodeReady(session).catch(err => log.warn({ err }, 'pending commands not sent; they wait for the next connection'))
      },
      log
    })
    // Attached synchronously, before any await, so no early frame is lost.
    socket.on('message', (data, isBinary) => session.onFrame(data as Buffer, isBinary))
    socket.on('pong', () => session.onPong())
    socket.on('close', () => {
      session.onClosed()
      registry.detach(session)
    })
    socket.on('error', err => log.warn({ err }, 'agent socket error'))
    registry.attach(session)
  })
}, { name: 'hub-agent-gateway', dependencies: ['hub-database', 'hub-actions'] })
