// The one send path of a connection, bounded. Three classes of frames share it:
//
// - Direct frames (replies, acks, errors, snapshots, commands, and events once the event stream
//   has decided to send them): sent at once, unless the transport already holds more than
//   `maxBufferedBytes` with this frame: then the peer is not reading and the connection is closed
//   (`onOverflow`, 1008). Nothing is ever queued here, so a connection costs at most its bound.
// - The event stream's congestion (panel-outbox.ts) is a layer above: it stops sending events
//   well below the bound and coalesces them, then calls `congest(true)` so that:
// - Ephemeral frames (console lines, stats: a newer one supersedes them) are sent only while the
//   stream is not congested and the buffer holds at most `ephemeralBytes` with the frame; otherwise
//   they are dropped and counted per key (`takeDropped`, for a later "n dropped" notice). They never
//   close the connection nor cause a `resync`, and as long as `ephemeralBytes` plus one ephemeral
//   frame stays below the event stream's high-water mark they can never push events into
//   coalescing: events are never delayed by them.
import type { Transport } from './types.ts'

export interface OutboxLimits {
  /** Above this many buffered bytes (with the frame), a direct frame closes the connection. */
  maxBufferedBytes: number
  /** Ephemeral frames go out only while the buffer holds at most this many bytes (with the frame). */
  ephemeralBytes: number
}

export interface Outbox {
  /** Sends one frame through the bound; false (and the connection is being closed) if over it. */
  send (frame: string | Buffer): boolean
  /** Sends several frames through the bound in one write, flushed at once: the buffered amount
   *  read next is what the peer has not taken, not what this tick corked. */
  sendMany (frames: ReadonlyArray<string | Buffer>): boolean
  /** Sends a droppable frame if there is room; else counts it as dropped under `key`. */
  ephemeral (key: string, frame: string | Buffer): boolean
  /** The event stream is (or is no longer) behind: ephemeral frames are dropped meanwhile. */
  congest (on: boolean): void
  /** Dropped ephemeral frames per key since the last call; the counters restart at zero. */
  takeDropped (): Map<string, number>
  buffered (): number
  stop (): void
}

export interface OutboxDeps {
  transport: Transport
  limits: OutboxLimits
  /** The bound was exceeded: close the connection (1008). Called once. */
  onOverflow: () => void
}

const size = (frame: string | Buffer) => typeof frame === 'string' ? Buffer.byteLength(frame) : frame.length

export function createOutbox ({ transport, limits, onOverflow }: OutboxDeps): Outbox {
  let stopped = false
  let congested = false
  let dropped = new Map<string, number>()

  function fits (bytes: number): boolean {
    if (stopped) return false
    if (transport.bufferedAmount() + bytes <= limits.maxBufferedBytes) return true
    stopped = true
    onOverflow()
    return false
  }

  return {
    send (frame) {
      if (!fits(size(frame))) return false
      transport.send(frame)
      return true
    },
    sendMany (frames) {
      let bytes = 0
      for (const f of frames) bytes += size(f)
      if (!fits(bytes)) return false
      for (const f of frames) transport.send(f)
      transport.flush()
      return true
    },
    ephemeral (key, frame) {
      if (stopped) return false
      if (!congested && transport.bufferedAmount() + size(frame) <= limits.ephemeralBytes) {
        transport.send(frame)
        return true
      }
      dropped.set(key, (dropped.get(key) ?? 0) + 1)
      return false
    },
    congest (on) { congested = on },
    takeDropped () {
      const taken = dropped
      dropped = new Map()
      return taken
    },
    buffered: () => transport.bufferedAmount(),
    stop () { stopped = true }
  }
}
