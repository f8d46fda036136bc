// The panel's state: servers the user may see, node presence, and the connection state.
// Push events update it in place and mark what changed; a flush at most every RENDER_MS (on an
// animation frame) wakes the views: status changes wake only the rows of those servers, so a
// storm of status events never re-diffs a 1,000-row table; membership, names, presence and the
// connection wake the whole view.
const RENDER_MS = 150

export function createStore () {
  const servers = new Map()
  const presence = new Map()
  const listeners = new Set()
  const rowListeners = new Map()
  const actionListeners = new Set()
  const dirty = new Set()
  let global = false
  let scheduled = false
  let lastFlush = 0
  /** `membership` is bumped when the set of servers or a name changes: views re-sort only then. */
  const s = { servers, presence, membership: 0, conn: 'connecting', features: [], loaded: false }

  function flush () {
    scheduled = false
    lastFlush = Date.now()
    const rows = [...dirty]
    const all = global
    dirty.clear()
    global = false
    if (all) for (const fn of listeners) fn()
    for (const id of rows) for (const fn of rowListeners.get(id) ?? []) fn()
  }

  function schedule () {
    if (scheduled) return
    scheduled = true
    setTimeout(() => requestAnimationFrame(flush), Math.max(0, lastFlush + RENDER_MS - Date.now()))
  }
  /** Something every view may show changed. */
  function changed () { global = true; schedule() }
  /** Only this server's row changed. */
  function rowChanged (id) { dirty.add(id); schedule() }

  return {
    state: s,
    subscribe (fn) { listeners.add(fn); return () => listeners.delete(fn) },
    /** Wakes `fn` when this server changes (its status above all). */
    onRow (id, fn) {
      if (!rowListeners.has(id)) rowListeners.set(id, new Set())
      rowListeners.get(id).add(fn)
      return () => { rowListeners.get(id)?.delete(fn); if (rowListeners.get(id)?.size === 0) rowListeners.delete(id) }
    },
    onAction (fn) { actionListeners.add(fn); return () => actionListeners.delete(fn) },
    changed,
    /** Full list from REST (names, owners); statuses are then kept by the socket. */
    setList (items) {
      servers.clear()
      for (const it of items) servers.set(it.id, { ...it })
      s.loaded = true
      s.membership++
      changed()
    },
    /** Servers found after the first list (one redraw for all of them). */
    add (items) {
      if (items.length === 0) return
      for (const it of items) servers.set(it.id, { ...it })
      s.membership++
      changed()
    },
    upsert (id, patch) {
      const cur = servers.get(id)
      servers.set(id, { ...(cur ?? { id }), ...patch })
      if (cur === undefined || (patch.name !== undefined && patch.name !== cur.name)) { s.membership++; changed() } else rowChanged(id)
    },
    remove (ids) {
      for (const id of ids) servers.delete(id)
      s.membership++
      changed()
    },
    setPresence (nodeId, connected) { presence.set(nodeId, connected); changed() },
    setConn (conn) { if (s.conn !== conn) { s.conn = conn; changed() } },
    setFeatures (f) { s.features = f; changed() },
    /** Applies one panel frame. */
    apply (msg) {
      if (msg.type === 'subscribed') {
        for (const sv of msg.servers) {
          const cur = servers.get(sv.serverId)
          if (cur === undefined || cur.name !== sv.name) s.membership++
          servers.set(sv.serverId, { ...(cur ?? { id: sv.serverId }), name: sv.name, nodeId: sv.nodeId, status: sv.status, updatedAt: sv.updatedAt })
        }
        changed()
      } else if (msg.type === 'event') {
        const d = msg.data ?? {}
        if (msg.kind === 'server.status' && servers.has(d.serverId)) {
          const cur = servers.get(d.serverId)
          servers.set(d.serverId, { ...cur, status: d.to, updatedAt: msg.at })
          rowChanged(d.serverId)
        } else if (msg.kind === 'node.presence') {
          presence.set(d.nodeId, d.connected)
          changed()
        } else if (msg.kind === 'action.updated') {
          for (const fn of actionListeners) fn(d, msg.at)
        }
      } else if (msg.type === 'error' && msg.code === 'FORBIDDEN' && Array.isArray(msg.data?.servers)) {
        // A revoked permission: these servers left the caller's view.
        for (const id of msg.data.servers) servers.delete(id)
        s.membership++
        changed()
      }
    }
  }
}
