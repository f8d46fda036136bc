// The one corking scheme (plugins/ws-transport.ts) over a real loopback socket: frames sent to one
// socket within one tick leave in one write; flush writes at once.
import type { Socket } from 'node:net'
import { once } from 'node:events'
import t from 'tap'
import type { Test } from 'tap'
import WebSocket, { WebSocketServer } from 'ws'
import { WsTransport } from '../../../src/hub/plugins/ws-transport.ts'

interface Pair { transport: WsTransport, writes: () => number, received: string[], arrived: (n: number) => Promise<void> }

async function pair (t: Test): Promise<Pair> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 })
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  const client = new WebSocket(`ws://127.0.0.1:${port}`)
  const [[ws, request]] = await Promise.all([once(server, 'connection'), once(client, 'open')]) as [[WebSocket, { socket: Socket }], unknown]
  t.teardown(async () => {
    client.terminate()
    await new Promise(resolve => server.close(resolve))
  })
  const tcp = request.socket
  // Every write the socket hands to the kernel goes through one of these two stream hooks.
  let writes = 0
  for (const hook of ['_write', '_writev'] as const) {
    const original = (tcp as any)[hook].bind(tcp)
    ;(tcp as any)[hook] = (...args: unknown[]) => { writes++; return original(...args) }
  }
  const received: string[] = []
  let waiter: { n: number, resolve: () => void } | undefined
  client.on('message', data => {
    received.push(String(data))
    if (waiter !== undefined && received.length >= waiter.n) waiter.resolve()
  })
  const arrived = async (n: number) => {
    if (received.length >= n) return
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${received.length} of ${n} frames arrived`)), 5_000)
      waiter = { n, resolve: () => { clearTimeout(timer); resolve() } }
    })
  }
  return { transport: new WsTransport(ws, tcp), writes: () => writes, received, arrived }
}

t.test('frames sent within one tick (its microtasks included) leave in one write', async t => {
  const p = await pair(t)
  p.transport.send('a')
  p.transport.send('b')
  await Promise.resolve().then(() => { p.transport.send('c') })
  await p.arrived(3)
  t.strictSame(p.received, ['a', 'b', 'c'], 'in order')
  t.equal(p.writes(), 1, 'one write')
})

t.test('the cork ends with the tick: a later one writes again', async t => {
  const p = await pair(t)
  p.transport.send('a')
  await p.arrived(1)
  p.transport.send('b')
  await p.arrived(2)
  t.strictSame(p.received, ['a', 'b'])
  t.equal(p.writes(), 2)
})

t.test('flush hands what is corked to the kernel at once', async t => {
  const p = await pair(t)
  p.transport.send('a')
  p.transport.send('b')
  t.ok(p.transport.bufferedAmount() > 0, 'corked bytes count as buffered')
  p.transport.flush()
  t.equal(p.writes(), 1, 'written before the tick ends')
  p.transport.send('c') // corks again; the pending uncork takes it
  await p.arrived(3)
  t.strictSame(p.received, ['a', 'b', 'c'])
  t.equal(p.writes(), 2)
})
