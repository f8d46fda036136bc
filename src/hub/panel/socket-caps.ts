// How many panel sockets one session and one client address may hold open at once on this hub.
// The gateway reserves a slot before the upgrade (over a cap: 429, no socket) and releases it when
// the TCP socket closes, whether or not the upgrade completed, so a slot cannot leak. With the
// outbox's per-socket bound this bounds what one session or address can make the hub hold.

export interface SocketCaps {
  /** Takes a slot for `sessionId` and `address`; undefined (nothing taken) when either is full. */
  reserve (sessionId: string, address: string): (() => void) | undefined
  count (key: { sessionId?: string, address?: string }): number
}

export function createSocketCaps (limits: { perSession: number, perAddress: number }): SocketCaps {
  const bySession = new Map<string, number>()
  const byAddress = new Map<string, number>()
  const dec = (map: Map<string, number>, key: string) => {
    const n = (map.get(key) ?? 1) - 1
    if (n > 0) map.set(key, n)
    else map.delete(key)
  }
  return {
    reserve (sessionId, address) {
      const s = bySession.get(sessionId) ?? 0
      const a = byAddress.get(address) ?? 0
      if (s >= limits.perSession || a >= limits.perAddress) return undefined
      bySession.set(sessionId, s + 1)
      byAddress.set(address, a + 1)
      let released = false
      return () => {
        if (released) return
        released = true
        dec(bySession, sessionId)
        dec(byAddress, address)
      }
    },
    count: ({ sessionId, address }) => sessionId !== undefined ? bySession.get(sessionId) ?? 0 : byAddress.get(address ?? '') ?? 0
  }
}
