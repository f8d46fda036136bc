/**
 * A panel speaking the panel protocol (PROTOCOL.md "Panel protocol"), for end-to-end tests and
 * benchmarks: login, ticket, connect (header or ticket), subscribe, resume with `since` after a
 * reconnect, an order check (event ids strictly increasing per connection) and a latency hook.
 * No Fastify, no hub internals: only `ws` and fetch.
 *
 * The resume cursor is the highest event id received, or the `lastEventId` of a `subscribed` that
 * was the connection's first subscription (with others live, events of those may still follow
 * it, so it cannot advance the cursor). `resume()` opens a new connection and subscribes to
 * everything watched so far with `since` = that cursor.
 */
import WebSocket from 'ws'

export interface PanelEvent { type: 'event', eventId: string, kind: string, data: any, at: string }
export interface PanelFrame { type: string, [key: string]: any }

export interface PanelClientOptions {
  /** The hub's base URL, http(s)://host:port. */
  url: string
  /** A session token (header auth), unless `useTicket`. */
  token: string
  /** Get a ticket with the token and connect with `?ticket=` instead of the header. */
  useTicket?: boolean
  /** Called for every event, with the local receive time (ms since the epoch, performance based). */
  onEvent?: (event: PanelEvent, receivedAt: number) => void
  /**
   * Called for every `subscribed`, in stream order: the events that follow it in the same read
   * are delivered before `subscribe()`'s promise settles, so a snapshot must be taken here.
   */
  onSubscribed?: (frame: PanelFrame) => void
  /** Called for every `console` and `stats` frame (PROTOCOL.md 1.1), with the local receive time. */
  onStream?: (frame: PanelFrame, receivedAt: number) => void
  /** Called for every `resync`, in stream order (before the events that follow it). */
  onResync?: (reason: string) => void
  /** How long next() and the request helpers wait. */
  timeoutMs?: number
  /** Keep received events, console and stats frames for next() (other frames are always kept); benchmarks turn it off. */
  keepFrames?: boolean
}

export class PanelUpgradeError extends Error {
  readonly status: number
  constructor (status: number) {
    super(`upgrade refused with HTTP ${status}`)
    this.status = status
  }
}

export async function login (url: string, username: string, password: string): Promise<string> {
  const res = await fetch(`${url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }), signal: AbortSignal.timeout(10_000) })
  if (res.status !== 201) throw new Error(`login failed: HTTP ${res.status}`)
  return ((await res.json()) as { token: string }).token
}

export async function getTicket (url: string, token: string): Promise<string> {
  const res = await fetch(`${url}/api/ws-ticket`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(10_000) })
  if (res.status !== 201) throw new Error(`ticket failed: HTTP ${res.status}`)
  return ((await res.json()) as { ticket: string }).ticket
}

export function createPanelClient (options: PanelClientOptions) {
  const { url, token, timeoutMs = 5_000, keepFrames = true } = options
  let ws: WebSocket | undefined
  let inbox: PanelFrame[] = []
  const waiters: Array<() => void> = []
  let requestId = 0
  let subscribedOnConnection = 0
  let lastOnConnection = 0n
  const watched = { servers: new Set<string>(), nodes: new Set<string>() }
  const state = {
    /** The resume cursor. */
    cursor: '0',
    /** Events received whose id was not above the previous one on the same connection. */
    orderViolations: 0,
    events: 0,
    resyncs: 0,
    closed: undefined as undefined | { code: number, reason: string }
  }

  const wake = () => { waiters.splice(0).forEach(w => w()) }

  function onMessage (data: Buffer) {
    const receivedAt = performance.timeOrigin + performance.now()
    const frame = JSON.parse(data.toString()) as PanelFrame
    if (frame.type === 'event') {
      const id = BigInt(frame.eventId)
      if (id <= lastOnConnection) state.orderViolations++
      lastOnConnection = id
      if (id > BigInt(state.cursor)) state.cursor = frame.eventId
      state.events++
      options.onEvent?.(frame as PanelEvent, receivedAt)
    } else if (frame.type === 'subscribed') {
      options.onSubscribed?.(frame)
      if (subscribedOnConnection++ === 0 && BigInt(frame.lastEventId) > BigInt(state.cursor)) state.cursor = frame.lastEventId
    } else if (frame.type === 'resync') {
      state.resyncs++
      options.onResync?.(String(frame.reason))
    } else if (frame.type === 'console' || frame.type === 'stats') {
      options.onStream?.(frame, receivedAt)
      if (!keepFrames) { wake(); return }
    }
    if (keepFrames || frame.type !== 'event') inbox.push(frame)
    wake()
  }

  async function connect (): Promise<PanelFrame> {
    const base = url.replace(/^http/, 'ws') + '/panel/v1'
    const target = options.useTicket === true ? `${base}?ticket=${encodeURIComponent(await getTicket(url, token))}` : base
    const socket = new WebSocket(target, options.useTicket === true ? {} : { headers: { authorization: `Bearer ${token}` } })
    ws = socket
    inbox = []
    subscribedOnConnection = 0
    lastOnConnection = 0n
    state.closed = undefined
    socket.on('message', data => { if (socket === ws) onMessage(data as Buffer) })
    socket.on('close', (code, reason) => { if (socket === ws) { state.closed = { code, reason: reason.toString() }; wake() } })
    socket.on('error', () => {})
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve())
      socket.once('unexpected-response', (_req, res) => { socket.terminate(); reject(new PanelUpgradeError(res.statusCode ?? 0)) })
      socket.once('error', reject)
    })
    return await next('ready')
  }

  /** The next frame matching `want` (a type or a predicate), waiting at most timeoutMs. */
  async function next (want?: string | ((f: PanelFrame) => boolean), wait = timeoutMs): Promise<PanelFrame> {
    const match = (f: PanelFrame) => want === undefined || (typeof want === 'string' ? f.type === want : want(f))
    const deadline = Date.now() + wait
    for (;;) {
      const i = inbox.findIndex(match)
      if (i >= 0) return inbox.splice(i, 1)[0] as PanelFrame
      if (state.closed !== undefined) throw new Error(`closed (${state.closed.code} ${state.closed.reason}) before ${String(want)}`)
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`no ${String(want ?? 'frame')} within ${wait} ms; have ${JSON.stringify(inbox.map(f => f.type))}`)
      await new Promise<void>(resolve => { waiters.push(resolve); setTimeout(resolve, Math.min(left, 250)).unref() })
    }
  }

  const send = (msg: object) => (ws as WebSocket).send(JSON.stringify(msg))

  /** Subscribes; resolves with the `subscribed` frame or the `error` frame answering it. */
  async function subscribe (req: { servers?: string[], nodes?: string[], since?: string, console?: true, stats?: true }): Promise<PanelFrame> {
    const id = ++requestId
    send({ type: 'subscribe', id, ...req })
    const answer = await next(f => (f.type === 'subscribed' || f.type === 'error') && f.id === id)
    if (answer.type === 'subscribed') {
      // resume() resubscribes the status stream; console and stats are resubscribed by the caller.
      for (const s of req.servers ?? []) watched.servers.add(s)
      for (const n of req.nodes ?? []) watched.nodes.add(n)
    }
    return answer
  }

  return {
    state,
    connect,
    next,
    subscribe,
    unsubscribe (req: { servers?: string[], nodes?: string[] }) {
      for (const s of req.servers ?? []) watched.servers.delete(s)
      for (const n of req.nodes ?? []) watched.nodes.delete(n)
      send({ type: 'unsubscribe', id: ++requestId, ...req })
    },
    async ping (): Promise<PanelFrame> {
      const id = ++requestId
      send({ type: 'ping', id })
      return await next(f => f.type === 'pong' && f.id === id)
    },
    /** Sends raw text (tests of malformed frames). */
    sendRaw (text: string | Buffer) { (ws as WebSocket).send(text) },
    /** Reconnects and subscribes to everything watched, replaying from the cursor. */
    async resume (): Promise<PanelFrame> {
      ws?.terminate()
      await connect()
      return await subscribe({ servers: [...watched.servers], nodes: [...watched.nodes], since: state.cursor })
    },
    /** Stops reading from the socket (the kernel buffers fill, then the hub's). */
    pauseReading () { (ws as unknown as { _socket: { pause (): void } })._socket.pause() },
    resumeReading () { (ws as unknown as { _socket: { resume (): void } })._socket.resume() },
    async closed (wait = timeoutMs): Promise<{ code: number, reason: string }> {
      const deadline = Date.now() + wait
      while (state.closed === undefined) {
        if (Date.now() > deadline) throw new Error(`not closed within ${wait} ms`)
        await new Promise<void>(resolve => { waiters.push(resolve); setTimeout(resolve, 250).unref() })
      }
      return state.closed
    },
    close () { ws?.close(); ws = undefined },
    terminate () { ws?.terminate() },
    drain () { const frames = inbox; inbox = []; return frames }
  }
}

export type PanelClient = ReturnType<typeof createPanelClient>
