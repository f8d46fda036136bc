// /agent/v1: the thin WebSocket adapter over the realtime core (agents/*). Authentication runs
// in preValidation, before the upgrade, so a bad token gets HTTP 401 and no socket.
import fp from 'fastify-plugin'
import type { FastifyRequest } from 'fastify'
import { CLOSE } from '../../agent-protocol/index.ts'
import { tokenVersions } from '../../db/sql/node-tokens.ts'
import type { AgentTokens } from '../agent-tokens.ts'
import { createAgentRegistry, type AgentRegistry } from '../agents/agent-registry.ts'
import { createAgentSession } from '../agents/agent-session.ts'
import { createHelloReconciler } from '../agents/hello.ts'
import { createNodeRevocation } from '../agents/node-revocation.ts'
import { FEATURE, type Feature } from '../../agent-protocol/index.ts'
import { createBatchedLookup } from '../group-commit.ts'
import { realTimer } from '../timers.ts'
import { createPresence } from '../agents/presence.ts'
import { createStatusIngest, type StatusIngest, type StatusIngestOptions } from '../agents/status-ingest.ts'
import type { Config } from '../config.ts'
import { NotReadyError, UnauthorizedError } from '../errors.ts'
import { bearerToken } from './auth.ts'
import { attachSocket } from './ws-release.ts'
import { registerWebsocket, WsTransport } from './ws-transport.ts'

declare module 'fastify' {
  interface FastifyInstance {
    agents: AgentRegistry
    ingest: StatusIngest
  }
  interface FastifyRequest {
    agentNodeId: string | null
    agentTokenVersion: number | null
  }
}

/** The 1.1 features this hub enables for agents (PROTOCOL.md "Features"). */
const HUB_FEATURES: readonly Feature[] = [FEATURE.PROVISION, FEATURE.CONSOLE, FEATURE.STATS]

/** Overrides of the ingest's batching; unset in production, where lanes follow the pool size. */
export type IngestTuning = Partial<Pick<StatusIngestOptions, 'lanes' | 'maxBatch' | 'maxQueue'>>

export interface AgentGatewayOptions {
  config: Config
  tokens: AgentTokens
  ingest?: IngestTuning
}

export default fp<AgentGatewayOptions>(async (app, { config, tokens, ingest: tuning }) => {
  const { pool } = app.db
  // Two lanes: every batch ends by taking the event counter's lock for its commit, so more lanes
  // only queue there (bench/ingest.ts at 5,000/s: p50 6 ms and p99 25-47 ms with 5 lanes,
  // p50 2.7 ms and p99 16-18 ms with 2), while one lane would leave no batch preparing meanwhile.
  const ingest = createStatusIngest({
    pool,
    lanes: Math.max(1, Math.min(2, Math.floor(config.dbPoolMax / 2))),
    ...tuning,
    ...(app.hasDecorator('meters') ? { onBatch: app.meters.batch('status') } : {}),
    log: app.log
  })
  if (app.hasDecorator('meters')) app.meters.depth('status', () => ingest.depth())
  const presence = createPresence({ pool, heartbeatMs: config.heartbeatMs, log: app.log })
  const hellos = createHelloReconciler(pool)
  const registry = createAgentRegistry({ write: presence.write, log: app.log })
  // Upgrades share token-version queries the way reports share transactions: while one query
  // is in flight the next ones gather (a reconnect storm would otherwise queue one query per
  // agent on the pool). No cache: a rotated token must fail on the very next upgrade. A failed
  // lookup answers 503, not 401: agents treat 401 as terminal, and this is the hub's fault.
  const tokenVersion = createBatchedLookup(async ids => await tokenVersions(pool, ids), 2)
  // Console and stats of a server created after its agent said hello: one shared query per batch.
  const serverRefs = createBatchedLookup(async ids => await app.repos.servers.refs(ids), 2)
  const unsubscribe = app.bus.subscribe(events => registry.onEvents(events))
  app.decorate('agents', registry)
  app.actions.bindSessions(nodeId => registry.get(nodeId))
  app.decorate('ingest', ingest)
  app.decorateRequest('agentNodeId', null)
  app.decorateRequest('agentTokenVersion', null)
  // A token rotated or a node deleted on any hub closes its agent here (auth feed, 4401).
  const revocation = createNodeRevocation({ sessionOf: registry.get, held: registry.held, tokenVersions: async ids => await tokenVersions(pool, ids) })
  const unsubscribeAuth = app.authFeed.subscribe({
    onChange: async change => { if ('nodeId' in change) await revocation.apply(change.nodeId) },
    onReconnect: async () => await revocation.recheckAll()
  })

  await registerWebsocket(app, config.maxFrameBytes)

  app.addHook('onReady', async () => { presence.start(registry.held) })
  // preClose: before Fastify closes the HTTP server, so agents get 1001 rather than a reset
  // (registerWebsocket's own preClose, which runs first, has already said 1001 to every socket).
  app.addHook('preClose', async () => {
    registry.closeAll(CLOSE.GOING_AWAY, 'hub shutting down')
    unsubscribe()
    unsubscribeAuth()
    await Promise.all([ingest.drain(), hellos.drain()])
    await presence.stop()
  })

  const authenticate = async (request: FastifyRequest) => {
    const token = bearerToken(request.headers.authorization)
    const claims = token === undefined ? undefined : await tokens.verify(token)
    let version
    try {
      version = claims === undefined ? undefined : await tokenVersion(claims.nodeId)
    } catch (err) {
      app.log.error({ err }, 'token version lookup failed')
      throw new NotReadyError('the hub cannot check agent tokens right now; retry')
    }
    if (claims === undefined || version !== claims.version) {
      throw new UnauthorizedError('a valid agent token is required')
    }
    request.agentNodeId = claims.nodeId
    request.agentTokenVersion = claims.version
  }

  const limits = {
    heartbeatMs: config.heartbeatMs,
    helloTimeoutMs: config.helloTimeoutMs,
    maxFrameBytes: config.maxFrameBytes,
    ratePerSecond: config.agentRatePerSecond,
    burst: config.agentBurst,
    maxBadFrames: 20,
    maxLimitedFrames: 1_000,
    maxBufferedBytes: config.agentMaxBufferedBytes,
    ephemeralBytes: 0
  }

  // Memory per connection matters here (10,000 agents per hub): the Transport is one small object
  // (WsTransport), limits and logger are shared (session logs carry the nodeId), and nothing
  // keeps the upgrade request alive for the connection's life (ws-release.ts).
  app.get('/agent/v1', { websocket: true, preValidation: authenticate }, (socket, request) => {
    const nodeId = request.agentNodeId as string
    const session = createAgentSession({
      nodeId,
      transport: new WsTransport(socket, request.raw.socket),
      ...(app.hasDecorator('meters') ? { frames: app.meters.frames.agent } : {}),
      limits,
      now: Date.now,
      setTimer: realTimer,
      hello: async (msg, features) => await hellos.reconcile({ nodeId, servers: msg.servers, at: new Date(), features: features ?? [] }),
      features: HUB_FEATURES,
      stream: (msg, s) => {
        if (msg.type === 'console') app.consoleHub.console(msg, msg.replay === true && s.startsReplay(msg.serverId))
        else app.consoleHub.stats(msg)
      },
      submit: async report => await ingest.submit(report),
      reply: async reply => await app.actions.store.reply(reply),
      // Configurations first (PROTOCOL.md 1.1: after welcome, before pending commands).
      onReady: hello => {
        app.provisioning.nodeReady(session, hello)
          .catch(err => app.log.warn({ err, nodeId }, 'server configurations not sent; the resend retries'))
          .finally(() => {
            app.actions.dispatcher.nodeReady(session).catch(err => app.log.warn({ err, nodeId }, 'pending commands not sent; they wait for the next connection'))
          })
      },
      configAck: async ack => await app.provisioning.ack(nodeId, ack),
      owns: async serverId => (await serverRefs(serverId))?.nodeId === nodeId,
      log: app.log
    })
    attachSocket(socket, request.raw.socket, {
      onFrame: (data, isBinary) => { session.onFrame(data, isBinary) },
      onPong: () => { session.onPong() },
      onClosed: () => {
        session.onClosed()
        registry.detach(session)
      }
    }, err => app.log.warn({ err, nodeId }, 'agent socket error'))
    revocation.track(session, request.agentTokenVersion as number)
    registry.attach(session)
  })
}, { name: 'hub-agent-gateway', dependencies: ['hub-database', 'hub-actions', 'hub-provisioning'] })
