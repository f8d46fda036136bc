// Shared set-up for the panel end-to-end tests: users, a node with servers, a raw agent, a
// second hub on the same database, and events appended straight to the log.
import { once } from 'node:events'
import type { FastifyInstance } from 'fastify'
import WebSocket from 'ws'
import { createPanelClient, type PanelClientOptions } from '../../../agent-simulator/panel-client.ts'
import type { NewEvent } from '../../../src/db/sql/events.ts'
import { inTransaction } from '../../../src/db/sql/transaction.ts'
import { buildHub } from '../../../src/hub/build-hub.ts'
import { loadConfig, type Config } from '../../../src/hub/config.ts'
import { createAgentTokens, generateKeySet } from '../../../src/hub/agent-tokens.ts'
import type { TestHub } from '../../helpers/hub.ts'

interface Tap { teardown (fn: () => unknown): void }

export async function addUser (hub: TestHub, username: string, permissions: string[] = []) {
  const admin = await hub.adminToken()
  const res = await hub.request('POST', '/api/users', { token: admin, body: { username, email: `${username}@example.com`, password: 'password-1234' } })
  if (res.status !== 201) throw new Error(`user ${username}: ${res.status}`)
  for (const permission of permissions) await hub.request('POST', `/api/users/${res.body.id}/permissions`, { token: admin, body: { permission } })
  return { id: res.body.id as string, token: await hub.login(username, 'password-1234') }
}

/** A node with servers; owners[i] owns server i (admin when absent). */
export async function addNode (hub: TestHub, name: string, owners: string[]) {
  const res = await hub.request('POST', '/api/nodes', { token: await hub.adminToken(), body: { name } })
  const prisma = hub.app.db.prisma
  const alt = await prisma.alt.findFirstOrThrow()
  const ids: string[] = []
  for (const [i, ownerId] of owners.entries()) {
    ids.push((await prisma.server.create({ data: { name: `${name}-${i}`, port: 27000 + i, nodeId: res.body.node.id, altId: alt.id, ownerId } })).id)
  }
  return { nodeId: res.body.node.id as string, agentToken: res.body.agentToken as string, servers: ids }
}

export function panel (hub: { url: string }, token: string, options: Partial<PanelClientOptions> = {}) {
  return createPanelClient({ url: hub.url, token, ...options })
}

/** A raw agent that says hello with every server STOPPED and then reports statuses. */
export async function agent (hub: TestHub, node: { agentToken: string, servers: string[] }) {
  const ws = new WebSocket(hub.url.replace('http', 'ws') + '/agent/v1', { headers: { authorization: `Bearer ${node.agentToken}` } })
  const frames: any[] = []
  let wake = () => {}
  ws.on('message', d => { frames.push(JSON.parse(String(d))); wake() })
  await once(ws, 'open')
  ws.send(JSON.stringify({ type: 'hello', protocol: 1, agentVersion: 't', servers: node.servers.map(serverId => ({ serverId, status: 'STOPPED', seq: 0 })) }))
  const seqs = new Map<string, number>()
  const wait = async (pred: (f: any) => boolean) => {
    const deadline = Date.now() + 5_000
    for (;;) {
      const i = frames.findIndex(pred)
      if (i >= 0) return frames.splice(i, 1)[0]
      if (Date.now() > deadline) throw new Error('agent: no answer within 5 s')
      await new Promise<void>(resolve => { wake = resolve; setTimeout(resolve, 100) })
    }
  }
  await wait(f => f.type === 'welcome')
  return {
    ws,
    /** Reports a status and waits for its ack (the commit). */
    async status (serverId: string, status: string) {
      const seq = (seqs.get(serverId) ?? 0) + 1
      seqs.set(serverId, seq)
      ws.send(JSON.stringify({ type: 'status', serverId, status, seq, at: new Date().toISOString() }))
      await wait(f => f.type === 'status.ack' && f.serverId === serverId && f.seq === seq)
    },
    close: () => ws.close()
  }
}

/** Appends server.status-shaped events straight to the log, in transactions of `batch`. */
export async function appendMany (app: FastifyInstance, serverIds: string[], nodeId: string, count: number, pad = 0, batch = 500) {
  const padding = 'x'.repeat(pad)
  for (let done = 0; done < count; done += batch) {
    const events: NewEvent[] = []
    for (let i = done; i < Math.min(count, done + batch); i++) {
      const serverId = serverIds[i % serverIds.length] as string
      events.push({ kind: 'server.status', serverId, nodeId, data: { serverId, nodeId, from: 'RUNNING', to: 'RUNNING', seq: i, n: i, padding }, at: new Date() })
    }
    await inTransaction(app.db.pool, async (_client, emit) => { emit(events) })
  }
}

/** Another hub instance on the same database (its own pool, feeds and sockets). */
export async function secondHub (t: Tap, databaseUrl: string, overrides: Partial<Config> = {}) {
  const config = { ...loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent' }), databaseUrl, dbPoolMax: 4, ...overrides }
  const app = await buildHub({ config, agentTokens: await createAgentTokens(await generateKeySet(), 'hub') })
  t.teardown(() => app.close())
  const url = await app.listen({ host: '127.0.0.1', port: 0 })
  return { app, url }
}

export async function upgradeStatus (url: string, path: string, headers: Record<string, string> = {}): Promise<number> {
  const ws = new WebSocket(url.replace('http', 'ws') + path, { headers })
  ws.on('error', () => {})
  const result = await Promise.race([
    once(ws, 'unexpected-response').then(([, res]) => (res as { statusCode: number }).statusCode),
    once(ws, 'open').then(() => 101)
  ])
  ws.terminate()
  return result
}
