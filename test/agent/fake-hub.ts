// A hand-driven stand-in for the hub's agent endpoint that speaks protocol 1.1 frames as plain
// JSON: each test plays the hub's part (welcome, server.config, commands, acks) step by step.
import type { AddressInfo } from 'node:net'
import { decodeAgentMessage } from '../../src/agent-protocol/index.ts'
import { WebSocketServer, type WebSocket } from 'ws'
import { waitable, type Teardown, type Waitable } from './helpers.ts'

export const NODE_ID = '00000000-0000-4000-8000-0000000000aa'

export interface FakeConn {
  socket: WebSocket
  authorization: string | undefined
  frames: Waitable<Record<string, unknown>>
  send (msg: object): void
  /** Waits for the next frame of `type` (any already received counts). */
  next (type: string, match?: (f: Record<string, unknown>) => boolean, ms?: number): Promise<Record<string, unknown>>
  welcome (lastSeq?: Record<string, number>, features?: string[]): void
}

export interface FakeHub {
  url: string
  connections: Waitable<FakeConn>
  close (): Promise<void>
}

export async function startFakeHub (t: Teardown): Promise<FakeHub> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' })
  await new Promise((resolve) => wss.once('listening', resolve))
  const connections = waitable<FakeConn>()
  wss.on('connection', (socket, req) => {
    const frames = waitable<Record<string, unknown>>()
    const taken = new Set<Record<string, unknown>>()
    socket.on('message', (data) => {
      try {
        // Every frame the agent sends must pass the hub's own decoder (protocol 1.1 schemas).
        const decoded = decodeAgentMessage(data as Buffer)
        frames.push(decoded.ok ? JSON.parse(data.toString()) as Record<string, unknown> : { type: 'invalid', reason: decoded.error.reason })
      } catch {
        frames.push({ type: 'invalid' })
      }
    })
    const conn: FakeConn = {
      socket,
      authorization: req.headers.authorization,
      frames,
      send: (msg) => socket.send(JSON.stringify(msg)),
      async next (type, match = () => true, ms) {
        const f = await frames.wait((x) => x.type === type && !taken.has(x) && match(x), `a ${type} frame`, ms)
        taken.add(f)
        return f
      },
      welcome (lastSeq = {}, features = ['provision', 'console', 'stats']) {
        socket.send(JSON.stringify({ type: 'welcome', protocol: 1, nodeId: NODE_ID, heartbeatMs: 5_000, lastSeq, features }))
      }
    }
    connections.push(conn)
  })
  let closed = false
  const close = async (): Promise<void> => {
    if (closed) return
    closed = true
    for (const client of wss.clients) client.terminate()
    await new Promise((resolve) => wss.close(resolve))
  }
  t.teardown(close)
  return { url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/agent/v1`, connections, close }
}
