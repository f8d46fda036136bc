// Frames in and out by type, per socket kind (agent, panel): the counters behind
// hub_ws_frames_total (traffic-metrics.ts). The kernel (connection.ts) calls it for every text
// frame it passes on or sends; the type is read from the frame's text without parsing it: the
// first `"type":"…"` in its first 160 characters (every frame the hub encodes starts with its type,
// and so do the agent's and the panel's), kept only when it is one of the protocol's types, else
// 'unknown', so the label set stays bounded whatever a peer sends. Plain integers in a map per
// socket kind and direction; a frame that starts `{"type":"` (all of ours) is read without a regex.
export type SocketKind = 'agent' | 'panel'
export type Direction = 'in' | 'out'

/** The protocol's frame types (docs/protocol.md), both directions, both sockets. */
export const FRAME_TYPES: ReadonlySet<string> = new Set([
  // agent → hub
  'hello', 'status', 'command.ack', 'command.result', 'console', 'stats', 'server.config.ack',
  // hub → agent
  'welcome', 'status.ack', 'command', 'error', 'server.config', 'server.removed',
  // panel → hub
  'subscribe', 'unsubscribe', 'console.send', 'ping',
  // hub → panel
  'ready', 'subscribed', 'event', 'resync', 'pong', 'console.sent'
])

const TYPE = /"type"\s*:\s*"([a-z.]{1,32})"/
const HEAD = 160

const PREFIX = '{"type":"'
const QUOTE = 0x22

/**
 * Whether the frame starts with `prefix` (ASCII), read in place: a Buffer is compared byte by
 * byte, so checking a frame's type allocates no string for its head (frames arrive as Buffers).
 */
export function startsWithAscii (frame: string | Buffer, prefix: string): boolean {
  if (typeof frame === 'string') return frame.startsWith(prefix)
  if (frame.length < prefix.length) return false
  for (let i = 0; i < prefix.length; i++) if (frame[i] !== prefix.charCodeAt(i)) return false
  return true
}

// The protocol's types by length, to name a Buffer's type bytes without making a string of them.
const BY_LENGTH = new Map<number, string[]>()
for (const type of FRAME_TYPES) BY_LENGTH.set(type.length, [...(BY_LENGTH.get(type.length) ?? []), type])

/** The protocol type spelled by frame[start, end), or undefined. */
function typeAt (frame: Buffer, start: number, end: number): string | undefined {
  return BY_LENGTH.get(end - start)?.find(type => {
    for (let i = 0; i < type.length; i++) if (frame[start + i] !== type.charCodeAt(i)) return false
    return true
  })
}

/** The frame's protocol type, or 'unknown'. */
export function frameType (frame: string | Buffer): string {
  // Fast path, no regex: every frame the hub encodes, and the agent's and panel's, starts with its
  // type; a Buffer's (how frames arrive) is matched in place, a string's sliced.
  let type: string | undefined
  if (startsWithAscii(frame, PREFIX)) {
    const end = typeof frame === 'string' ? frame.indexOf('"', PREFIX.length) : frame.indexOf(QUOTE, PREFIX.length)
    if (end > 0 && end < 48) type = typeof frame === 'string' ? frame.slice(PREFIX.length, end) : typeAt(frame, PREFIX.length, end)
  } else {
    const text = typeof frame === 'string' ? frame.slice(0, HEAD) : frame.toString('latin1', 0, HEAD)
    type = TYPE.exec(text)?.[1]
  }
  return type !== undefined && FRAME_TYPES.has(type) ? type : 'unknown'
}

export interface FrameMeter {
  count (direction: Direction, frame: string | Buffer): void
  /** [direction, type, count] of this socket kind so far. */
  entries (): Array<[Direction, string, number]>
}

export function createFrameMeter (): FrameMeter {
  const counts: Record<Direction, Map<string, number>> = { in: new Map(), out: new Map() }
  return {
    count (direction, frame) {
      const type = frameType(frame)
      const m = counts[direction]
      m.set(type, (m.get(type) ?? 0) + 1)
    },
    entries: () => (['in', 'out'] as const).flatMap(d => [...counts[d]].map(([type, n]) => [d, type, n] as [Direction, string, number]))
  }
}

/** One meter per socket kind, for one hub. */
export type FrameMeters = Record<SocketKind, FrameMeter>
export const createFrameMeters = (): FrameMeters => ({ agent: createFrameMeter(), panel: createFrameMeter() })
