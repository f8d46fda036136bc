// The panel's state: servers the user may see, node presence, and the connection state.
// Push events update it in place; views redraw at most once per frame, so a storm of status
// events costs one render per frame, not one per event.
export function createStore () {
  const servers = new Map()
  const presence = new Map()
  const listeners = new Set()
  const actionListeners = new Set()
  let version = 0
  let scheduled = false
  const s = { servers, presence, version: 0, conn: 'connecting', features: [], loaded: false }

  function changed () {
    version++
    if (scheduled) return
    scheduled = true
    requestAnimationFrame(() => {
      scheduled = false
      s.version = version
      for (const fn of listeners) fn()
    })
  }

  return {
    state: s,
    subscribe (fn) { listeners.add(fn); return () => listeners.delete(fn) },
    onAction (fn) { actionListeners.add(fn); return () => actionListeners.delete(fn) },
    changed,
    /** Full list from REST (names, owners); statuses are then kept by the socket. */
    setList (items) {
      servers.clear()
      for (const it of items) servers.set(it.id, { ...it })
      s.loaded = true
      changed()
    },
    upsert (id, patch) {
      const cur = servers.get(id)
      servers.set(id, { ...(cur ?? { id }), ...patch })
      changed()
    },
    remove (ids) {
      for (const id of ids) servers.delete(id)
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
          servers.set(sv.serverId, { ...(cur ?? { id: sv.serverId }), name: sv.name, nodeId: sv.nodeId, status: sv.status, updatedAt: sv.updatedAt })
        }
        changed()
      } else if (msg.type === 'event') {
        const d = msg.data ?? {}
        if (msg.kind === 'server.status' && servers.has(d.serverId)) {
          const cur = servers.get(d.serverId)
          servers.set(d.serverId, { ...cur, status: d.to, updatedAt: msg.at })
          changed()
        } else if (msg.kind === 'node.presence') {
          presence.set(d.nodeId, d.connected)
          changed()
        } else if (msg.kind === 'action.updated') {
          for (const fn of actionListeners) fn(d, msg.at)
        }
      } else if (msg.type === 'error' && msg.code === 'FORBIDDEN' && Array.isArray(msg.data?.servers)) {
        // A revoked permission: these servers left the caller's view.
        for (const id of msg.data.servers) servers.delete(id)
        changed()
      }
    }
  }
}
