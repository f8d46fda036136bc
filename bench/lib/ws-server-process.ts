// The reference point for memory per connection: a bare `ws` server that accepts connections
// and does nothing with them. Answers `gc` (then reports RSS) and `count` over IPC.
import { WebSocketServer } from 'ws'
import { serve } from './rpc.ts'

const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 })
await new Promise(resolve => wss.once('listening', resolve))
const gc = globalThis.gc as () => void
const { port } = wss.address() as { port: number }
serve({
  count: () => wss.clients.size,
  async gc () {
    gc()
    await new Promise(resolve => setTimeout(resolve, 300))
    gc()
    return { rss: process.memoryUsage.rss(), connections: wss.clients.size }
  }
}, { url: `ws://127.0.0.1:${port}/`, pid: process.pid })
