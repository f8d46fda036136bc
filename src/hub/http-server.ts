// The HTTP server's timeouts, so that a client cannot hold a socket forever by sending slowly
// (slowloris: headers a byte at a time, or a body that never ends) or by staying idle.
//
// - headers: the whole header block must arrive within HUB_HTTP_HEADERS_TIMEOUT_MS;
// - request: the whole request, body included, within HUB_HTTP_REQUEST_TIMEOUT_MS (Node answers 408);
// - connection: a socket idle that long (nothing read or written) is destroyed;
// - keep-alive: an idle kept-alive socket between requests is closed after that long.
//
// Node enforces the first two by a sweep over the server's open HTTP connections every
// `connectionsCheckingInterval` (30 s by default, which would let a small timeout overshoot by
// 30 s): it is a quarter of the smaller timeout here, at most 5 s. None of them applies to an
// upgraded WebSocket: Node takes an upgraded socket out of the HTTP connection list, and `ws`
// clears the socket's idle timeout when it takes the socket over (test/hub/http-timeouts.test.ts
// proves both); WebSocket liveness is the gateways' heartbeat.
import type { Config } from './config.ts'

type Timeouts = Pick<Config, 'httpRequestTimeoutMs' | 'httpHeadersTimeoutMs' | 'httpConnectionTimeoutMs' | 'httpKeepAliveTimeoutMs'>

/** Options for `Fastify({...})`. */
export function httpServerOptions (config: Timeouts) {
  const check = Math.max(25, Math.min(5_000, Math.floor(Math.min(config.httpHeadersTimeoutMs, config.httpRequestTimeoutMs) / 4)))
  return {
    requestTimeout: config.httpRequestTimeoutMs,
    connectionTimeout: config.httpConnectionTimeoutMs,
    keepAliveTimeout: config.httpKeepAliveTimeoutMs,
    http: {
      requestTimeout: config.httpRequestTimeoutMs,
      headersTimeout: config.httpHeadersTimeoutMs,
      keepAliveTimeout: config.httpKeepAliveTimeoutMs,
      connectionsCheckingInterval: check
    }
  }
}
