// The panel socket (/panel/v1): opened with a single-use ticket, subscriptions that survive a
// reconnect (resumed with `since` = the last event seen, so nothing is missed), and a fresh
// snapshot on `resync`. Listeners get frames; the view layer decides what to redraw.
const MAX_IDS_PER_FRAME = 1000
const BACKOFF_MS = [250, 500, 1000, 2000, 4000, 5000]

export function createLive ({ api, onState, onFrame, onRefused = () => {} }) {
  let ws = null
  let stopped = true
  let attempt = 0
  let lastEventId = null
  let nextId = 1
  let features = []
  /** serverId -> { console, stats } of what we watch; replayed on every (re)connect. */
  const watched = new Map()
  const pending = new Map()

  const state = s => onState(s)

  async function connect () {
    if (stopped) return
    state(attempt === 0 ? 'connecting' : 'reconnecting')
    let ticket
    try {
      ticket = (await api.post('/api/ws-ticket')).ticket
    } catch (err) {
      if (err.status === 401) return stop()
      return retry()
    }
    if (stopped) return
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:'
    const socket = new WebSocket(`${proto}//${location.host}/panel/v1?ticket=${encodeURIComponent(ticket)}`)
    ws = socket
    socket.onmessage = m => {
      let msg
      try { msg = JSON.parse(m.data) } catch { return }
      receive(msg)
    }
    socket.onclose = ev => {
      if (ws !== socket) return
      ws = null
      for (const [, p] of pending) p.reject(new Error('connection lost'))
      pending.clear()
      if (ev.code === 4401) { state('unauthorized'); stop(); return }
      retry()
    }
  }

  function retry () {
    if (stopped) return
    state('lost')
    const delay = BACKOFF_MS[Math.min(attempt, BACKOFF_MS.length - 1)]
    attempt++
    setTimeout(connect, delay)
  }

  function receive (msg) {
    switch (msg.type) {
      case 'ready':
        features = Array.isArray(msg.features) ? msg.features : []
        resubscribe(lastEventId)
        attempt = 0
        state('live')
        break
      case 'subscribed':
        if (lastEventId === null || BigInt(msg.lastEventId) > BigInt(lastEventId)) lastEventId = msg.lastEventId
        settle(msg.id, 'resolve', msg)
        break
      case 'console.sent':
        settle(msg.id, 'resolve', msg)
        break
      case 'event':
        lastEventId = msg.eventId
        break
      case 'resync':
        // Events were dropped: fresh snapshots of everything watched, no `since`.
        resubscribe(null)
        break
      case 'error':
        if (msg.id !== undefined && pending.has(msg.id)) settle(msg.id, 'reject', msg)
        break
    }
    onFrame(msg)
  }

  function settle (id, how, value) {
    const p = pending.get(id)
    if (p === undefined) return
    pending.delete(id)
    p[how](value)
  }

  function send (frame) {
    if (ws === null || ws.readyState !== WebSocket.OPEN) return false
    ws.send(JSON.stringify(frame))
    return true
  }

  function request (frame) {
    const id = `r${nextId++}`
    return new Promise((resolve, reject) => {
      if (!send({ ...frame, id })) return reject(new Error('not connected'))
      pending.set(id, { resolve, reject })
    })
  }

  function resubscribe (since) {
    const groups = new Map()
    for (const [serverId, opts] of watched) {
      const key = `${opts.console ? 'c' : ''}${opts.stats ? 's' : ''}`
      if (!groups.has(key)) groups.set(key, [])
      groups.get(key).push(serverId)
    }
    for (const [key, ids] of groups) {
      for (let i = 0; i < ids.length; i += MAX_IDS_PER_FRAME) {
        const frame = { type: 'subscribe', servers: ids.slice(i, i + MAX_IDS_PER_FRAME) }
        if (since !== null) frame.since = since
        if (key.includes('c')) frame.console = true
        if (key.includes('s')) frame.stats = true
        // Refused whole (a server deleted or a permission lost while away): the caller reloads.
        request(frame).catch(err => { if (err?.code === 'FORBIDDEN' || err?.code === 'NOT_FOUND') onRefused(err) })
      }
    }
  }

  function stop () {
    stopped = true
    const socket = ws
    ws = null
    socket?.close(1000)
  }

  return {
    get features () { return features },
    get connected () { return ws !== null && ws.readyState === WebSocket.OPEN },
    start () { if (stopped) { stopped = false; attempt = 0; connect() } },
    stop,
    /** Signed out: forget every subscription and the resume point. */
    reset () { stop(); watched.clear(); pending.clear(); lastEventId = null },
    /** Watch servers (status); with console/stats, their live output too. */
    async watch (serverIds, opts = {}) {
      const fresh = serverIds.filter(id => {
        const cur = watched.get(id)
        const want = { console: Boolean(opts.console || cur?.console), stats: Boolean(opts.stats || cur?.stats) }
        watched.set(id, want)
        return cur === undefined || (opts.console && !cur.console) || (opts.stats && !cur.stats)
      })
      const out = []
      for (let i = 0; i < fresh.length; i += MAX_IDS_PER_FRAME) {
        const frame = { type: 'subscribe', servers: fresh.slice(i, i + MAX_IDS_PER_FRAME) }
        if (opts.console) frame.console = true
        if (opts.stats) frame.stats = true
        out.push(request(frame))
      }
      return await Promise.all(out)
    },
    unwatchLive (serverId) {
      const cur = watched.get(serverId)
      if (cur === undefined || (!cur.console && !cur.stats)) return
      watched.set(serverId, { console: false, stats: false })
      send({ type: 'unsubscribe', id: `u${nextId++}`, servers: [serverId], console: cur.console || undefined, stats: cur.stats || undefined })
    },
    /** The hub ended this console stream (permission revoked): stop asking for it on reconnects. */
    dropConsole (serverId) {
      const cur = watched.get(serverId)
      if (cur !== undefined) watched.set(serverId, { ...cur, console: false })
    },
    forget (serverIds) { for (const id of serverIds) watched.delete(id) },
    /** Watch exactly these servers from now on (fresh snapshots, no `since`). */
    async rewatch (serverIds) {
      const keep = new Set(serverIds)
      for (const id of [...watched.keys()]) if (!keep.has(id)) watched.delete(id)
      for (const id of serverIds) watched.delete(id)
      return await this.watch(serverIds)
    },
    consoleSend: (serverId, input) => request({ type: 'console.send', serverId, input })
  }
}
