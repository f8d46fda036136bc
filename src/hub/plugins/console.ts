// Console output and stats (PROTOCOL.md 1.1): the hub's ring per server, latest stats and the
// panels watching them (console/console-hub.ts), and their forwarding across hubs that share the
// database (console/console-relay.ts: interest over NOTIFY, each hub LISTENing on the shared
// watch channel; lines and stats over direct links, console/hub-links.ts, served here at
// /hub/v1/link, or over NOTIFY on the hub's own channel when there is no link). Registered
// before both gateways: the agent gateway feeds it, the panel gateway subscribes panels to it.
import { randomUUID } from 'node:crypto'
import type { AddressInfo, Socket } from 'node:net'
import fp from 'fastify-plugin'
import type { FastifyRequest } from 'fastify'
import type pg from 'pg'
import { WebSocket } from 'ws'
import type { AgentSession } from '../agents/agent-session.ts'
import { createConsoleHub, type ConsoleHub } from '../console/console-hub.ts'
import { channelOf, createConsoleRelay, WATCH_CHANNEL, type ConsoleRelay } from '../console/console-relay.ts'
import { acceptLink, createLinkPool, LINK_PATH, linkAddress, type LinkPool } from '../console/hub-links.ts'
import { createLinkAuth, type LinkClaims } from '../console/link-auth.ts'
import type { Connection, ConnectionLimits } from '../connection/connection.ts'
import { sharedSecret } from '../../db/sql/hub-secrets.ts'
import { notifyMany } from '../../db/sql/notify-many.ts'
import type { Config } from '../config.ts'
import { UnauthorizedError } from '../errors.ts'
import { createGroupCommit, type Refusal } from '../group-commit.ts'
import { createListener } from '../pg-listener.ts'
import { realTimer } from '../timers.ts'
import { bearerToken } from './auth.ts'
import { attachSocket } from './ws-release.ts'
import { registerWebsocket, WsTransport } from './ws-transport.ts'

declare module 'fastify' {
  interface FastifyInstance {
    consoleHub: ConsoleHub
    consoleRelay: ConsoleRelay
    consoleLinks: LinkPool
    /** Links other hubs opened to this one (metrics, tests). */
    consoleLinksIn: Set<Connection>
    /** This hub's id among the hubs of its database (random per process; tests). */
    consoleHubId: string
  }
  interface FastifyRequest {
    linkClaims: LinkClaims | null
  }
}

/** Both ends of a link: frames are relay batches (a few per millisecond at most), the sender drops
 *  what does not fit in its megabyte, the receiver answers little but its welcome and errors. */
function linkLimits (config: Config): ConnectionLimits {
  return {
    heartbeatMs: config.heartbeatMs,
    ratePerSecond: 5_000,
    burst: 5_000,
    maxBadFrames: 20,
    maxLimitedFrames: 1_000,
    maxBufferedBytes: 2 * 1024 * 1024,
    ephemeralBytes: 1024 * 1024
  }
}

/** The address other hubs dial: HUB_LINK_URL, else the one this hub listens on (a wildcard as loopback). */
function ownLinkAddress (config: Config, listening: AddressInfo | string | null): string | undefined {
  if (config.linkUrl === 'off') return undefined
  if (config.linkUrl !== undefined) return linkAddress(config.linkUrl)
  if (listening === null || typeof listening === 'string') return undefined
  const host = listening.address === '0.0.0.0' ? '127.0.0.1' : listening.address === '::' ? '::1' : listening.address
  return linkAddress(`ws://${listening.family === 'IPv6' || host.includes(':') ? `[${host}]` : host}:${listening.port}`)
}

export default fp<{ config: Config }>(async (app, { config }) => {
  const hubId = randomUUID()
  // The relay's NOTIFYs have a connection of their own: they neither wait in the pool's queue
  // behind status ingest (a relay stalled there lags every cross-hub panel) nor take its
  // connections. Opened on first use; a failure drops it and the next batch dials again.
  let notifyClient: Promise<pg.Client> | undefined
  const notifyConnection = async () => await (notifyClient ??= (async () => {
    const client = app.db.dedicatedClient('hub-console-notify')
    client.on('error', () => { notifyClient = undefined })
    await client.connect()
    // A NOTIFY gives its transaction an id, so each commit would wait for a WAL flush (an fsync):
    // nothing here needs durability (the lines are ephemeral, and listeners are told at commit
    // either way), so this connection does not wait for it.
    // And no statement may hold the lane for long: the queue behind it is bounded, then refused.
    await client.query("SET synchronous_commit = off; SET statement_timeout = '5s'")
    return client
  })().catch(err => { notifyClient = undefined; throw err }))
  // At most 2,000 payloads (~15 MB) wait; beyond, batches are dropped (ephemeral data).
  const notifier = createGroupCommit<{ channel: string, payload: string }, 'sent' | Refusal>({
    commit: async items => {
      const client = await notifyConnection()
      try {
        await notifyMany(client, items)
      } catch (err) {
        if (notifyClient !== undefined) { notifyClient = undefined; client.end().catch(() => {}) }
        throw err
      }
      return items.map(() => 'sent' as const)
    },
    fail: why => why,
    maxBatch: 200,
    maxQueue: 2_000
  })
  // Direct links (console/hub-links.ts), authenticated with the secret the hubs share in the database.
  const auth = createLinkAuth(await sharedSecret(app.db.pool, 'console-link'), hubId)
  const limits = linkLimits(config)
  const links = createLinkPool({
    auth,
    limits,
    now: Date.now,
    setTimer: realTimer,
    log: app.log,
    dial (url, headers, events) {
      const ws = new WebSocket(url, { headers, handshakeTimeout: 5_000, maxPayload: 64 * 1024, perMessageDeflate: false, followRedirects: false })
      let tcp: Socket | undefined
      ws.on('upgrade', res => { tcp = res.socket })
      ws.on('open', () => events.onOpen(new WsTransport(ws, tcp as Socket)))
      ws.on('message', (data, isBinary) => events.onFrame(data as Buffer, isBinary))
      ws.on('pong', () => events.onPong())
      // The warning of a failed dial says why (refused, HTTP 401: another database or secret, a timeout).
      let why: string | undefined
      ws.on('close', () => events.onClose(why))
      ws.on('error', err => { why = err.message; app.log.debug({ err, url }, 'console link socket error') })
      return () => ws.terminate()
    }
  })
  let addr: string | undefined
  // Known once the hub listens (watches come from panels, and links from hubs that saw them, so after that).
  const ownAddr = () => (addr ??= ownLinkAddress(config, app.server.address()))
  let sessions: AgentSession[] | undefined
  const listSessions = () => {
    queueMicrotask(() => { sessions = undefined })
    return app.agents.held().flatMap(h => app.agents.get(h.nodeId) ?? [])
  }
  const relay = createConsoleRelay({
    hubId,
    links,
    addr: ownAddr,
    // Asked for the ids of a watch payload (a replay, a new stats lease): this hub's agent
    // sessions are listed once per payload, not once per id (2,000 ids × 1,000 agents).
    holds: serverId => (sessions ??= listSessions()).some(s => s.owns(serverId)),
    // Autocommit, outside any write transaction; one statement in flight, the payloads queued
    // meanwhile go together in the next one, in order (see notify-many.ts).
    notify: async (channel, payload) => { if (await notifier.submit({ channel, payload }) !== 'sent') throw new Error('console relay NOTIFY refused (overloaded or closing)') },
    setTimer: realTimer,
    log: app.log
  })
  const hub = createConsoleHub({ setTimer: realTimer, relay })
  relay.attach(hub)
  app.decorate('consoleHub', hub)
  app.decorate('consoleRelay', relay)
  app.decorate('consoleLinks', links)
  const inbound = new Set<Connection>()
  app.decorate('consoleLinksIn', inbound)
  app.decorate('consoleHubId', hubId)

  // The dialled end of a link: the upgrade needs a token from a hub of this database, meant for
  // this hub at this hub's own address, not used before (link-auth.ts); anything else gets HTTP
  // 401 and no socket. With HUB_LINK_URL=off no hub is told an address, so none dials here.
  await registerWebsocket(app, config.maxFrameBytes)
  app.decorateRequest('linkClaims', null)
  const authenticateLink = async (request: FastifyRequest) => {
    const token = bearerToken(request.headers.authorization)
    const own = ownAddr()
    const claims = token === undefined || own === undefined ? undefined : await auth.verify(token, { use: 'dial', addr: own })
    if (claims === undefined) throw new UnauthorizedError('a console link token of a hub of this database is required')
    request.linkClaims = claims
  }
  app.get(LINK_PATH, { websocket: true, preValidation: authenticateLink, schema: { hide: true } }, (socket, request) => {
    const claims = request.linkClaims as LinkClaims
    const raw = request.raw.socket
    const log = request.log.child({ hub: claims.from })
    const conn = acceptLink({
      transport: new WsTransport(socket, raw),
      from: claims.from,
      nonce: claims.nonce,
      auth,
      onFrame: frame => relay.onLink(frame),
      maxFrameBytes: config.maxFrameBytes,
      limits,
      now: Date.now,
      setTimer: realTimer,
      onEnd: () => inbound.delete(conn),
      log
    })
    inbound.add(conn)
    attachSocket(socket, raw, conn, err => log.warn({ err }, 'console link socket error'))
  })
  const watchFeed = createListener({
    connect: () => app.db.dedicatedClient('hub-console-watch'),
    channel: WATCH_CHANNEL,
    name: 'console watch feed',
    onNotify: payload => relay.onWatch(payload),
    onReconnect: () => {},
    log: app.log
  })
  const forwardFeed = createListener({
    connect: () => app.db.dedicatedClient('hub-console-forward'),
    channel: channelOf(hubId),
    name: 'console forward feed',
    onNotify: payload => relay.onForward(payload),
    // Forwarding hubs may have let our interest lapse while we were away.
    onReconnect: () => relay.renew(),
    log: app.log
  })
  await watchFeed.start()
  await forwardFeed.start()
  // A deleted server (DELETE /api/servers/:id, on any hub: the auth feed's {serverId}) releases
  // its ring, stats and watchers here. The same notice also means a change of owner, so the
  // server is looked up. A node is deleted only once it has no servers (the foreign key
  // restricts it), so a node deletion has nothing of its own to release. After a redial of the
  // feed, every server held here is checked.
  const forgetGone = async (serverIds: string[]) => {
    if (serverIds.length === 0) return
    const live = await app.repos.servers.refs(serverIds)
    for (const id of serverIds) {
      if (live.has(id)) continue
      // The agent may still send the server's lines until it handles `server.removed`: they are
      // refused (NOT_YOUR_SERVER) rather than filling a new ring.
      for (const h of app.agents.held()) app.agents.get(h.nodeId)?.disown(id)
      hub.forget(id)
      relay.forget(id)
    }
  }
  const unsubscribeAuth = app.authFeed.subscribe({
    onChange: async change => { if ('serverId' in change) await forgetGone([change.serverId]) },
    onReconnect: async () => await forgetGone(hub.known())
  })
  app.addHook('onClose', async () => {
    unsubscribeAuth()
    hub.stop()
    relay.stop()
    links.closeAll()
    await notifier.drain()
    const client = await notifyClient?.catch(() => undefined)
    notifyClient = undefined
    await client?.end().catch(() => {})
    await watchFeed.stop()
    await forwardFeed.stop()
  })
}, { name: 'hub-console', dependencies: ['hub-database', 'hub-events'] })
