// The one adapter from `ws` to the connection kernel's Transport (connection/types.ts), for agent
// and panel sockets alike, and the one registration of @fastify/websocket.
import type { Socket } from 'node:net'
import type { FastifyInstance } from 'fastify'
import websocket from '@fastify/websocket'
import type { WebSocket } from 'ws'
import { CLOSE } from '../../agent-protocol/codes.ts'
import type { Transport } from '../connection/types.ts'

// One corking scheme. Frames sent to one socket within one tick (the acks of one committed batch,
// a chunk of events, a snapshot and its replay) leave in one write: the TCP socket is corked on
// the first of them and uncorked once the tick's microtasks are done. Without this, every ack was
// its own writev syscall (a fifth of the hub's CPU at 15,000 acks/s). Corked bytes count in
// ws's bufferedAmount, so the kernel's bound sees them; a chunk of events is flushed at once
// (Outbox.sendMany), so the event stream's high-water check measures the reader, not the cork.
const corked: Socket[] = []
const uncorkAll = () => {
  for (const tcp of corked.splice(0)) tcp.uncork()
}

const TEXT = { binary: false }

/** A class, not closures, to keep each of thousands of connections small. */
export class WsTransport implements Transport {
  readonly ws: WebSocket
  readonly tcp: Socket
  constructor (ws: WebSocket, tcp: Socket) {
    this.ws = ws
    this.tcp = tcp
  }

  send (frame: string | Buffer): void {
    if (this.tcp.writableCorked === 0) {
      this.tcp.cork()
      if (corked.push(this.tcp) === 1) process.nextTick(uncorkAll)
    }
    this.ws.send(frame, TEXT)
  }

  flush (): void {
    // Uncorking an uncorked socket is a no-op, so its entry in `corked` may stay.
    if (this.tcp.writableCorked > 0) this.tcp.uncork()
  }

  close (code: number, reason: string): void { this.ws.close(code, reason) }
  ping (): void { this.ws.ping() }
  bufferedAmount (): number { return this.ws.bufferedAmount }
}

/**
 * Registers @fastify/websocket once, whichever gateway comes first. Its default preClose hook
 * closes every client without a status code (1005) before any gateway's own preClose runs; ours
 * says 1001 (going away: reconnect), which is what agents and panels must see on a restart.
 */
export async function registerWebsocket (app: FastifyInstance, maxPayload: number): Promise<void> {
  if (app.hasDecorator('websocketServer')) return
  await app.register(websocket, {
    options: { maxPayload },
    preClose (done) {
      const server = this.websocketServer
      for (const client of server.clients) client.close(CLOSE.GOING_AWAY, 'hub shutting down')
      server.close()
      done()
    }
  })
}
