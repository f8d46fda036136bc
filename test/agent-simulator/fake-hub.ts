// A scripted stand-in for the hub's agent endpoint, for testing the simulator's agent client
// without a database. It only checks the bearer token and records frames; each test plays the
// hub's part by hand (welcome, acks, commands, drops), so every step is explicit and ordered.
import type { AddressInfo } from 'node:net'
import { WebSocketServer, type WebSocket } from 'ws'
import { decodeAgentMessage, encode, type AgentMessage, type HubMessage } from '../../src/agent-protocol/index.ts'

export const NODE_ID = '00000000-0000-4000-8000-000000000001'
const WAIT_MS = 2_000

/** Resolves as `promise` does, or rejects after `ms`: every wait in these tests is bounded. */
export async function within<T> (promise: Promise<T>, what: string, ms = WAIT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms)
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}

/** Items in arrival order; take() hands out the next one not yet taken, waiting for it if needed. */
export interface Queue<T> {
  readonly items: readonly T[]
  push (item: T): void
  take (what: string): Promise<T>
}

export function createQueue<T> (): Queue<T> {
  const items: T[] = []
  let taken = 0
  let wake: (() => void) | null = null
  return {
    items,
    push (item) {
      items.push(item)
      wake?.()
      wake = null
    },
    async take (what) {
      while (taken === items.length) await within(new Promise<void>((resolve) => { wake = resolve }), what)
      return items[taken++] as T
    }
  }
}

/** A frame the codec refused (the agent sent bad input on purpose). */
export interface InvalidFrame { type: 'invalid', reason: string, binary: boolean }

export interface FakeConnection {
  socket: WebSocket
  authorization: string | undefined
  frames: Queue<AgentMessage | InvalidFrame>
  closed: Promise<{ code: number, reason: string }>
  send (msg: HubMessage): void
  welcome (lastSeq?: Record<string, number>): void
  ack (serverId: string, seq: number): void
}

export interface FakeHub {
  url: string
  /** Bearer token accepted on the upgrade; anything else gets HTTP 401. Change it to lock agents out. */
  token: string
  connections: Queue<FakeConnection>
  close (): Promise<void>
}

export async function startFakeHub (token: string): Promise<FakeHub> {
  const connections = createQueue<FakeConnection>()
  const server = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    verifyClient: ({ req }, done) => done(req.headers.authorization === `Bearer ${hub.token}`, 401)
  })
  server.on('connection', (socket, req) => {
    const frames = createQueue<AgentMessage | InvalidFrame>()
    // Attached before anything else: the agent's hello may already be on its way.
    socket.on('message', (data, binary) => {
      const decoded = decodeAgentMessage(data as Buffer)
      frames.push(decoded.ok ? decoded.msg : { type: 'invalid', reason: decoded.error.reason, binary })
    })
    const closed = new Promise<{ code: number, reason: string }>((resolve) => {
      socket.on('close', (code, reason) => resolve({ code, reason: reason.toString() }))
    })
    const send = (msg: HubMessage) => socket.send(encode(msg))
    connections.push({
      socket,
      authorization: req.headers.authorization,
      frames,
      closed,
      send,
      welcome: (lastSeq = {}) => send({ type: 'welcome', protocol: 1, nodeId: NODE_ID, heartbeatMs: 60_000, lastSeq }),
      ack: (serverId, seq) => send({ type: 'status.ack', serverId, seq })
    })
  })
  await within(new Promise<void>((resolve, reject) => {
    server.once('listening', resolve)
    server.once('error', reject)
  }), 'the fake hub to listen')
  const { port } = server.address() as AddressInfo

  const hub: FakeHub = {
    url: `ws://127.0.0.1:${port}/agent/v1`,
    token,
    connections,
    async close () {
      // ws 8 leaves open connections alone on close(); end them first.
      for (const socket of server.clients) socket.terminate()
      await within(new Promise<void>((resolve) => server.close(() => resolve())), 'the fake hub to close')
    }
  }
  return hub
}
