// After an upgrade through @fastify/websocket, two things keep the upgrade's request, reply and
// response alive for the whole life of the connection: the plugin's 'error' listener on the
// socket (its closure holds request and reply) and the plugin's ServerResponse, left attached to
// the TCP socket as its `_httpMessage`. With thousands of long-lived sockets that is several KB
// each. Both gateways call this right after attaching their own 'error' listener.
import type { ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { WebSocket } from 'ws'

export function releaseUpgrade (socket: WebSocket, tcp: Socket, onError: (err: Error) => void): void {
  socket.removeAllListeners('error')
  socket.on('error', onError)
  const response = (tcp as Socket & { _httpMessage?: ServerResponse | null })._httpMessage
  response?.detachSocket(tcp)
}
