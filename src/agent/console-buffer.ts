// Per-server console output on its way to the hub: the last REPLAY_LINES lines (replayed after every
// welcome) and a batcher that gathers live lines for up to BATCH_MS, then cuts them into frames
// within the protocol's limits (MAX_FRAME_LINES lines, MAX_FRAME_TEXT_BYTES bytes of text).

export const REPLAY_LINES = 200
export const BATCH_MS = 100
export const MAX_FRAME_LINES = 100
export const MAX_FRAME_TEXT_BYTES = 16_384

/** Cuts lines (each already within the line limit) into frame-sized groups, in order. */
export function chunkLines (lines: readonly string[]): string[][] {
  const frames: string[][] = []
  let current: string[] = []
  let bytes = 0
  for (const line of lines) {
    const size = Buffer.byteLength(line, 'utf8')
    if (current.length > 0 && (current.length === MAX_FRAME_LINES || bytes + size > MAX_FRAME_TEXT_BYTES)) {
      frames.push(current)
      current = []
      bytes = 0
    }
    current.push(line)
    bytes += size
  }
  if (current.length > 0) frames.push(current)
  return frames
}

export interface ConsoleBuffer {
  /** New output lines of the server: kept for replay and batched for `send`. */
  add (lines: readonly string[]): void
  /** The last REPLAY_LINES lines. */
  recent (): string[]
  /** Sends what is batched now (at exit, before a status change is reported). */
  flush (): void
  close (): void
}

/**
 * `send` receives each batch as frame-sized groups of lines; it decides whether anyone is
 * connected. Live lines are never queued while disconnected: the replay covers the gap.
 */
export function createConsoleBuffer (send: (lines: string[]) => void, seed: readonly string[] = []): ConsoleBuffer {
  let ring: string[] = seed.slice(-REPLAY_LINES)
  let batch: string[] = []
  let timer: NodeJS.Timeout | undefined

  function flush (): void {
    clearTimeout(timer)
    timer = undefined
    if (batch.length === 0) return
    const lines = batch
    batch = []
    for (const frame of chunkLines(lines)) send(frame)
  }

  return {
    add (lines) {
      if (lines.length === 0) return
      ring.push(...lines)
      if (ring.length > 2 * REPLAY_LINES) ring = ring.slice(-REPLAY_LINES)
      batch.push(...lines)
      // A flood is cut into frames at once instead of growing the batch without bound.
      if (batch.length >= 10 * MAX_FRAME_LINES) flush()
      else timer ??= setTimeout(flush, BATCH_MS)
    },
    recent: () => ring.slice(-REPLAY_LINES),
    flush,
    close () {
      clearTimeout(timer)
      timer = undefined
      batch = []
    }
  }
}
