// The reference point for memory per connection: a bare `ws` server that accepts connections
// and does nothing with them. Answers `stats`, `gc` (then reports RSS) and `count` over IPC.
import { WebSocketServer } from 'ws'
import { serve } from './rpc.ts'

const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 })
await new Promise(resolve => wss.once('listening', resolve))
const gc = globalThis.gc as () => void
const { port } = wss.address() as { port: number }
const stats = () => ({ rss: process.memoryUsage.rss(), heapUsed: process.memoryUsage().heapUsed, connections: wss.clients.size })
serve({
  count: () => wss.clients.size,
  stats,
  async gc () {
    gc()
    await new Promise(resolve => setTimeout(resolve, 300))
    gc()
    return stats()
  }
}, { url: `ws://127.0.0.1:${port}/`, pid: process.pid })
