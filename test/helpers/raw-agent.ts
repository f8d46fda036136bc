// A bare WebSocket agent for tests that must misbehave on purpose (withhold acks, reply for
// other nodes' commands, resend late): frames in, frames out, nothing automatic.
import { once } from 'node:events'
import WebSocket from 'ws'
import type { TestHub } from './hub.ts'

export interface RawAgent {
  ws: WebSocket
  send (msg: unknown): void
  /** The next frame of this type (or matching), waiting up to `ms`. */
  next (type?: string | ((m: any) => boolean), ms?: number): Promise<any>
  /** Frames received and not yet taken by next(). */
  inbox: any[]
  closed: Promise<[number, string]>
  close (): Promise<void>
}

export async function connectRaw (hub: { url: string }, token: string): Promise<RawAgent> {
  const ws = new WebSocket(hub.url.replace('http', 'ws') + '/agent/v1', { headers: { authorization: `Bearer ${token}` } })
  const inbox: any[] = []
  const waiters: Array<() => void> = []
  ws.on('message', data => { inbox.push(JSON.parse(String(data))); waiters.splice(0).forEach(w => w()) })
  const closed = once(ws, 'close').then(([code, reason]) => [code as number, String(reason)] as [number, string])
  await once(ws, 'open')
  return {
    ws,
    inbox,
    closed,
    send: msg => ws.send(typeof msg === 'string' ? msg : JSON.stringify(msg)),
    async next (type, ms = 5_000) {
      const deadline = Date.now() + ms
      const wanted = (m: any) => type === undefined || (typeof type === 'function' ? type(m) : m.type === type)
      for (;;) {
        const i = inbox.findIndex(wanted)
        if (i >= 0) return inbox.splice(i, 1)[0]
        const left = deadline - Date.now()
        if (left <= 0) throw new Error(`no ${String(type ?? 'frame')} within ${ms} ms; got ${JSON.stringify(inbox).slice(0, 500)}`)
        await Promise.race([new Promise<void>(resolve => waiters.push(resolve)), closed, new Promise(resolve => setTimeout(resolve, left).unref())])
        if (ws.readyState === WebSocket.CLOSED && !inbox.some(wanted)) throw new Error(`closed before ${String(type)}`)
      }
    },
    async close () {
      if (ws.readyState !== WebSocket.CLOSED) {
        ws.close()
        await closed
      }
    }
  }
}

/** A node with `servers` servers owned by `ownerId` (admin by default) and its agent token. */
export async function addNode (hub: TestHub, name: string, servers = 1, ownerId?: string) {
  const res = await hub.request('POST', '/api/nodes', { token: await hub.adminToken(), body: { name } })
  const prisma = hub.app.db.prisma
  const alt = await prisma.alt.findFirstOrThrow()
  const owner = ownerId ?? (await prisma.user.findFirstOrThrow({ where: { username: 'admin' } })).id
  const ids: string[] = []
  for (let i = 0; i < servers; i++) {
    ids.push((await prisma.server.create({ data: { name: `${name}-${i}`, port: 27000 + i, nodeId: res.body.node.id, altId: alt.id, ownerId: owner } })).id)
  }
  return { nodeId: res.body.node.id as string, agentToken: res.body.agentToken as string, servers: ids }
}

/** Hello with these servers STOPPED, and wait for welcome. */
export async function hello (agent: RawAgent, servers: string[]): Promise<any> {
  agent.send({ type: 'hello', protocol: 1, agentVersion: 'raw', servers: servers.map(serverId => ({ serverId, status: 'STOPPED', seq: 0 })) })
  return await agent.next('welcome')
}
