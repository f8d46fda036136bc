// A child process holding many WebSocket clients that only count the frames they receive (no
// JSON parsing), so the receiving side costs as little as possible. Modes: `hub` (Bearer token,
// subscribe to the servers after ready), `ws` (nothing to do), `sio` (Engine.IO v4 websocket
// transport: answer the open packet with a namespace connect, pings with pongs).
// argv: mode url count token serverIdsJson. IPC: 'count' -> { count }.
import WebSocket from 'ws'

const [mode, url, countArg, token, serversJson] = process.argv.slice(2) as [string, string, string, string, string]
const servers = JSON.parse(serversJson) as string[]
let received = 0
let open = 0
const sockets: WebSocket[] = []
for (let i = 0; i < Number(countArg); i++) {
  const ws = new WebSocket(url, mode === 'hub' ? { headers: { authorization: `Bearer ${token}` }, perMessageDeflate: false } : { perMessageDeflate: false })
  sockets.push(ws)
  let first = true
  ws.on('message', (data: Buffer) => {
    if (mode === 'sio') {
      const c = data[0]
      if (c === 0x30) { ws.send('40'); return } // open -> connect the default namespace
      if (c === 0x32) { ws.send('3'); return } // ping -> pong
      if (data[0] === 0x34 && data[1] === 0x30) { open++; process.send?.({ open }); return } // connected
    }
    if (mode === 'hub' && first) {
      first = false
      ws.send(JSON.stringify({ type: 'subscribe', id: 1, servers }))
      return
    }
    if (mode === 'hub' && data.includes('"subscribed"')) { open++; process.send?.({ open }); return }
    received++
  })
  ws.on('open', () => { if (mode === 'ws') { open++; process.send?.({ open }) } })
  ws.on('error', () => {})
}
process.on('message', (m: string) => {
  if (m === 'count') process.send?.({ count: received })
  if (m === 'exit') { for (const s of sockets) s.terminate(); process.exit(0) }
})
