// The web panel: static files from src/web, the UI library from node_modules, GET /api/config,
// and the panel's page for every unknown non-API GET so deep links survive a reload. Every
// answer of this plugin carries a strict Content-Security-Policy: scripts, styles and sockets
// only from this origin, nothing inline, no frames.
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import fastifyStatic from '@fastify/static'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { Config } from '../config.ts'

export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "connect-src 'self'",
  "manifest-src 'self'", "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'"
].join('; ')

/** Paths that belong to the API or the sockets: an unknown one is a JSON 404, never the panel. */
const NOT_PANEL = /^\/(api|agent|panel|metrics|healthz|readyz)(\/|$|\?)/

/** The URL people and agents are told to use: HUB_PUBLIC_URL, else the address the request reached. */
export function publicUrlOf (config: Pick<Config, 'publicUrl'>, request: Pick<FastifyRequest, 'protocol' | 'host'>): string {
  return (config.publicUrl ?? `${request.protocol}://${request.host}`).replace(/\/+$/, '')
}

/** The agent gateway's URL for a public URL: same host, ws(s) scheme. */
export const agentUrlOf = (publicUrl: string): string => publicUrl.replace(/^http/, 'ws') + '/agent/v1'

export default async function webPlugin (app: FastifyInstance, { config }: { config: Config }): Promise<void> {
  const root = fileURLToPath(new URL('../../web/', import.meta.url))
  // htm's standalone build: preact, its hooks and htm in one ES module without bare imports,
  // so the browser loads it as it is, with no build step and no import map (inline script).
  const vendor = await readFile(fileURLToPath(import.meta.resolve('htm/preact/standalone')))

  app.addHook('onSend', async (_request, reply, payload) => {
    reply.header('content-security-policy', CONTENT_SECURITY_POLICY)
    reply.header('x-content-type-options', 'nosniff')
    reply.header('referrer-policy', 'no-referrer')
    reply.header('x-frame-options', 'DENY')
    return payload
  })

  // wildcard: false registers one route per file at startup; `index: false` leaves `/` to us.
  await app.register(fastifyStatic, { root, prefix: '/', wildcard: false, index: false, cacheControl: true, maxAge: 0 })

  app.get('/vendor/preact-htm.js', { schema: { hide: true } }, async (_request, reply) =>
    await reply.type('text/javascript; charset=utf-8').header('cache-control', 'public, max-age=3600').send(vendor))

  app.get('/api/config', {
    config: { auth: false },
    schema: {
      security: [],
      summary: 'What the panel needs before sign-in: the public URL and the agent URL built from it',
      response: {
        200: {
          type: 'object',
          required: ['publicUrl', 'agentHubUrl'],
          properties: { publicUrl: { type: 'string' }, agentHubUrl: { type: 'string' } }
        }
      }
    }
  }, async request => {
    const publicUrl = publicUrlOf(config, request)
    return { publicUrl, agentHubUrl: agentUrlOf(publicUrl) }
  })

  const page = async (_request: FastifyRequest, reply: import('fastify').FastifyReply) =>
    await reply.header('cache-control', 'no-cache').sendFile('index.html')
  app.get('/', { schema: { hide: true } }, page)
  app.get('/*', { schema: { hide: true } }, async (request, reply) => {
    if (NOT_PANEL.test(request.url)) {
      // An unknown /api path is still /api: anonymous callers get 401 (plugins/auth.ts), not a probe.
      if (request.url.startsWith('/api/')) await app.authenticate(request)
      return await reply.code(404).send({ error: { code: 'NOT_FOUND', message: `no route GET ${request.url.split('?')[0]}` } })
    }
    return await page(request, reply)
  })
}
