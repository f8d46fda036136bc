// Follows a server's output log: reads what was appended since the last read (woken by inotify via
// fs.watch, with a slow poll as a safety net), and rotates the file by size. The game appends
// through its own fd, so rotation copies the file to `<log>.1` and truncates it in place
// (logrotate's copytruncate): renaming would leave the game writing to the old file. Output
// written between the last read and the truncation is lost; the window is one read. A file that
// grows to twice the bound while the reader is behind is truncated unread (see skip).
import { closeSync, copyFileSync, fstatSync, ftruncateSync, openSync, readSync, watch, constants as fsc, type FSWatcher } from 'node:fs'
import { createLineSplitter } from './lines.ts'

const READ_CHUNK = 64 * 1024
/** Bytes read per wake-up at most; the rest follows on the next one, so a flood cannot stall the agent. */
const MAX_READ_PER_POLL = 1024 * 1024

export interface LogTailOptions {
  file: string
  /** Rotate when the log grows beyond this. */
  maxBytes: number
  onLines: (lines: string[]) => void
  /** Start at the end of the file (ignore what is there) instead of its start. Default true. */
  fromEnd?: boolean
  pollMs?: number
}

export interface LogTail {
  /** Reads everything available now (before deciding what an exit means, for example). */
  poll (): void
  close (): void
}

export function createLogTail (options: LogTailOptions): LogTail {
  const { file, maxBytes, onLines, pollMs = 1_000 } = options
  const fd = openSync(file, fsc.O_RDWR | fsc.O_CREAT | fsc.O_NOFOLLOW, 0o600)
  const splitter = createLineSplitter()
  let offset = options.fromEnd === false ? 0 : fstatSync(fd).size
  let closed = false
  const buf = Buffer.alloc(READ_CHUNK)
  let watcher: FSWatcher | undefined
  try {
    watcher = watch(file, { persistent: false }, () => poll())
    watcher.on('error', () => { watcher?.close(); watcher = undefined })
  } catch {}
  const timer = setInterval(poll, pollMs)
  timer.unref()

  function poll (): void {
    if (closed) return
    const size = fstatSync(fd).size
    if (size < offset) offset = 0 // truncated by someone else
    let read = 0
    while (offset < size && read < MAX_READ_PER_POLL) {
      const n = readSync(fd, buf, 0, READ_CHUNK, offset)
      if (n <= 0) break
      offset += n
      read += n
      const lines = splitter.push(buf.subarray(0, n))
      if (lines.length > 0) onLines(lines)
    }
    if (offset >= size) {
      if (offset >= maxBytes) rotate()
    } else if (size >= 2 * maxBytes) skip(size)
  }

  // The game writes faster than the agent reads (a log spammer, a crash loop printing traces):
  // waiting to catch up before rotating would let the file fill the disk. What was not read yet
  // is dropped, and the console is told how much.
  function skip (size: number): void {
    try {
      ftruncateSync(fd, 0)
    } catch { return }
    const lost = size - offset
    offset = 0
    const rest = splitter.flush()
    onLines([...rest, `[agent] ${lost} bytes of output skipped: the server wrote faster than the agent could read`])
  }

  function rotate (): void {
    try {
      copyFileSync(file, `${file}.1`)
      ftruncateSync(fd, 0)
      offset = 0
    } catch {}
  }

  return {
    poll,
    close () {
      if (closed) return
      poll()
      const rest = splitter.flush()
      if (rest.length > 0) onLines(rest)
      closed = true
      clearInterval(timer)
      watcher?.close()
      closeSync(fd)
    }
  }
}
