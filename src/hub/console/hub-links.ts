// Direct console links between hubs (docs/architecture.md "Across hubs"): the hub holding an
// agent sends the lines and stats other hubs' panels watch straight to those hubs, one WebSocket
// per pair, instead of through PostgreSQL. Both ends are connection-kernel sockets
// (connection/connection.ts: heartbeat, frame budget, bounded outbox), like agents and panels.
//
// - Dialling (createLinkPool): a link is dialled when the relay first needs the hub, to the
//   address the hub advertised in its watch; it is usable once the dialled hub has proved it holds
//   the shared secret (link-auth.ts) in its `link.welcome`. Its frames are ephemeral: over the
//   buffer bound they are dropped (and counted by the relay), never queued. A failed or lost link
//   is dialled again after a backoff (1 s doubling to 30 s); meanwhile, and while a dial is under
//   way, the relay sends by NOTIFY, so an unreachable address costs latency, not lines. A link to
//   a hub no longer interested is closed.
// - Accepting (acceptLink): the upgrade was authenticated already (plugins/console.ts); the
//   session answers with its welcome and hands every frame to the relay.
import { CLOSE } from '../../agent-protocol/codes.ts'
import { createConnection, type Connection, type ConnectionLimits } from '../connection/connection.ts'
import type { Log, SetTimer, Transport } from '../connection/types.ts'
import type { LinkAuth } from './link-auth.ts'

export const LINK_PATH = '/hub/v1/link'
const MAX_ADDR_LENGTH = 256

/**
 * A link address (HUB_LINK_URL, or one a watch advertised) in its one spelling (`ws://host:port`,
 * the URL's origin), or undefined unless it is ws:// or wss:// with a host and port only.
 */
export function linkAddress (value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length > MAX_ADDR_LENGTH) return undefined
  try {
    const url = new URL(value)
    const plain = url.username === '' && url.password === '' && url.pathname === '/' && url.search === '' && url.hash === ''
    return (url.protocol === 'ws:' || url.protocol === 'wss:') && plain ? url.origin : undefined
  } catch {
    return undefined
  }
}
export type LinkState = 'open' | 'connecting' | 'down'

/** What the relay needs of the links. */
export interface LinkCarrier {
  /** The link to `hub` (advertised at `addr`), dialled now if there is none or it is due again. */
  state (hub: string, addr: string): LinkState
  /** One frame on the open link to `hub`; false if it is not open or its buffer is full (dropped). */
  send (hub: string, frame: string): boolean
  /** The largest frame the hub takes (it says so in its welcome). */
  frameBytes (hub: string): number
  /** Closes the links to every hub not in `hubs`. */
  retain (hubs: ReadonlySet<string>): void
}

export interface LinkPool extends LinkCarrier {
  /** Links open now (metrics). */
  readonly open: number
  closeAll (): void
}

/** The socket events a dial reports; `onOpen` hands over the upgraded socket as a Transport. */
export interface DialEvents {
  onOpen (transport: Transport): void
  onFrame (data: Buffer, isBinary: boolean): void
  onPong (): void
  /** Closed or failed, before or after opening: called once. */
  onClose (): void
}

export interface LinkPoolOptions {
  auth: LinkAuth
  dial (url: string, headers: Record<string, string>, events: DialEvents): void
  limits: ConnectionLimits
  now: () => number
  setTimer: SetTimer
  /** How long the dialled hub has to upgrade and answer with its welcome. */
  welcomeMs?: number
  log: Log
}

interface Link {
  hub: string
  addr: string
  state: LinkState
  retryAt: number
  backoffMs: number
  frameBytes: number
  /** The current dial's connection, once upgraded (frames go on it only while `open`). */
  conn?: Connection
  /** Counts dials: events of an earlier dial, or of a link the pool let go of, change nothing. */
  attempt: number
  gone: boolean
}

const FIRST_BACKOFF_MS = 1_000
const MAX_BACKOFF_MS = 30_000

const linkErrors = {
  rateLimited: () => '{"type":"error","code":"RATE_LIMITED"}',
  badFrame: (reason: string) => JSON.stringify({ type: 'error', code: 'BAD_FRAME', message: reason })
}

export function createLinkPool (options: LinkPoolOptions): LinkPool {
  const { auth, limits, now, setTimer, welcomeMs = 5_000, log } = options
  const links = new Map<string, Link>()

  const fail = (link: Link, why: string) => {
    if (link.state === 'down') return
    if (link.state === 'open') log.warn({ hub: link.hub, addr: link.addr, why }, 'console link lost; dialling again, NOTIFY meanwhile')
    else log.warn({ hub: link.hub, addr: link.addr, why, retryMs: link.backoffMs }, 'console link could not be opened; NOTIFY carries the lines meanwhile')
    link.state = 'down'
    link.conn = undefined
    link.retryAt = now() + link.backoffMs
    link.backoffMs = Math.min(link.backoffMs * 2, MAX_BACKOFF_MS)
  }

  const dial = (link: Link) => {
    link.state = 'connecting'
    const attempt = ++link.attempt
    const current = () => !link.gone && link.attempt === attempt
    auth.sign(link.hub).then(({ token, nonce }) => {
      if (!current()) return
      let conn: Connection | undefined
      // The dialled hub's first frame proves it holds the secret and answers this very dial.
      const onWelcome = async (text: string) => {
        if (!current() || link.state !== 'connecting' || conn === undefined) return // after the welcome: only error frames
        const msg = parseWelcome(text)
        const claims = msg === undefined ? undefined : await auth.verify(msg.token)
        if (!current()) { conn.close(CLOSE.GOING_AWAY, 'no longer needed'); return }
        if (conn.closed) return
        if (msg === undefined || claims?.from !== link.hub || claims.nonce !== nonce) {
          fail(link, 'the dialled hub did not prove it is the hub that advertised this address')
          conn.close(CLOSE.UNAUTHORIZED, 'bad welcome')
          return
        }
        welcome.cancel()
        link.state = 'open'
        link.frameBytes = msg.maxFrameBytes
        link.backoffMs = FIRST_BACKOFF_MS
      }
      const welcome = setTimer(() => {
        if (current() && link.state !== 'connecting') return
        if (current()) fail(link, 'no welcome in time')
        conn?.close(CLOSE.TIMEOUT, 'no welcome')
      }, welcomeMs)
      options.dial(`${link.addr}${LINK_PATH}`, { authorization: `Bearer ${token}` }, {
        onOpen (transport) {
          if (!current() || link.state !== 'connecting') { transport.close(CLOSE.GOING_AWAY, 'no longer needed'); return }
          conn = createConnection({
            transport,
            limits,
            now,
            setTimer,
            errors: linkErrors,
            onText: data => { onWelcome(String(data)).catch(() => {}) },
            onEnd: () => { if (current()) fail(link, 'closed') }
          })
          // Held from now on, so that letting go of the link (drop) closes it even before its welcome.
          link.conn = conn
        },
        onFrame: (data, isBinary) => conn?.onFrame(data, isBinary),
        onPong: () => conn?.onPong(),
        onClose () {
          welcome.cancel()
          if (conn !== undefined) conn.onClosed()
          else if (current()) fail(link, 'dial failed')
        }
      })
    }).catch((err: unknown) => { log.warn({ err }, 'console link token could not be signed'); if (current()) fail(link, 'no token') })
  }

  const drop = (link: Link, code: number, reason: string) => {
    link.gone = true
    links.delete(link.hub)
    link.conn?.close(code, reason)
  }

  return {
    state (hub, addr) {
      let link = links.get(hub)
      if (link !== undefined && link.addr !== addr) { drop(link, CLOSE.GOING_AWAY, 'address changed'); link = undefined }
      if (link === undefined) {
        link = { hub, addr, state: 'down', retryAt: 0, backoffMs: FIRST_BACKOFF_MS, frameBytes: 0, attempt: 0, gone: false }
        links.set(hub, link)
      }
      if (link.state === 'down' && now() >= link.retryAt) dial(link)
      return link.state
    },
    send (hub, frame) {
      const link = links.get(hub)
      return link?.state === 'open' && link.conn !== undefined && link.conn.outbox.ephemeral('link', frame)
    },
    frameBytes: hub => links.get(hub)?.frameBytes ?? 0,
    retain (hubs) {
      for (const link of [...links.values()]) if (!hubs.has(link.hub)) drop(link, 1000, 'no longer watched')
    },
    get open () { return [...links.values()].filter(l => l.state === 'open').length },
    closeAll () {
      for (const link of [...links.values()]) drop(link, CLOSE.GOING_AWAY, 'hub shutting down')
    }
  }
}

function parseWelcome (text: string): { token: string, maxFrameBytes: number } | undefined {
  if (text.length > 4_096) return undefined
  try {
    const msg = JSON.parse(text) as { type?: unknown, token?: unknown, maxFrameBytes?: unknown }
    if (msg.type !== 'link.welcome' || typeof msg.token !== 'string') return undefined
    const max = msg.maxFrameBytes
    if (typeof max !== 'number' || !Number.isInteger(max) || max < 1_024) return undefined
    return { token: msg.token, maxFrameBytes: max }
  } catch {
    return undefined
  }
}

export interface AcceptLinkOptions {
  transport: Transport
  /** The dialling hub and its token's nonce (verified before the upgrade). */
  from: string
  nonce: string
  auth: LinkAuth
  /** Hands a frame to the relay: false if it is not a relay frame. */
  onFrame (data: string): boolean
  maxFrameBytes: number
  limits: ConnectionLimits
  now: () => number
  setTimer: SetTimer
  onEnd (): void
  log: Log
}

/** The dialled end: answers with the welcome, then hands each frame to the relay. */
export function acceptLink (options: AcceptLinkOptions): Connection {
  const { auth, from, nonce, log } = options
  const conn: Connection = createConnection({
    transport: options.transport,
    limits: options.limits,
    now: options.now,
    setTimer: options.setTimer,
    errors: linkErrors,
    onText: data => {
      let ok = false
      try { ok = options.onFrame(String(data)) } catch {}
      if (!ok) conn.bad(linkErrors.badFrame('not a relay frame'))
    },
    onEnd: options.onEnd
  })
  auth.sign(from, nonce).then(
    ({ token }) => { conn.send(JSON.stringify({ type: 'link.welcome', token, maxFrameBytes: options.maxFrameBytes })) },
    (err: unknown) => { log.warn({ err }, 'console link welcome could not be signed'); conn.close(CLOSE.POLICY, 'no welcome') }
  )
  return conn
}
