// After an upgrade through @fastify/websocket, two things keep the upgrade's request, reply and
// response alive for the whole life of the connection: the plugin's 'error' listener on the
// socket (its closure holds request and reply) and the plugin's ServerResponse, left attached to
// the TCP socket as its `_httpMessage`. With thousands of long-lived sockets that is several KB
// each. attachSocket calls it for the agent and panel gateways and the console links.
import type { ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { WebSocket } from 'ws'

/** What takes an upgraded socket's events: a session or a connection-kernel Connection. */
export interface SocketSink {
  onFrame (data: Buffer, isBinary: boolean): void
  onPong (): void
  onClosed (): void
}

/**
 * Feeds the socket's frames, pongs and close to `sink`, then releases the upgrade. Call it
 * synchronously in the route handler, before any await, so no early frame is lost.
 */
export function attachSocket (socket: WebSocket, tcp: Socket, sink: SocketSink, onError: (err: Error) => void): void {
  socket.on('message', (data, isBinary) => { sink.onFrame(data as Buffer, isBinary) })
  socket.on('pong', () => { sink.onPong() })
  socket.on('close', () => { sink.onClosed() })
  releaseUpgrade(socket, tcp, onError)
}

export function releaseUpgrade (socket: WebSocket, tcp: Socket, onError: (err: Error) => void): void {
  socket.removeAllListeners('error')
  socket.on('error', onError)
  const response = (tcp as Socket & { _httpMessage?: ServerResponse | null })._httpMessage
  response?.detachSocket(tcp)
}
