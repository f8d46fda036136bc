// A server's console files: the FIFO its input comes from and the log file its output goes to.
// Both outlive the agent: the game holds the FIFO (read-write, so it never sees end-of-file when a
// writer goes away) and the log as its stdin and stdout, so an agent restart changes nothing for it.
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { closeSync, fstatSync, lstatSync, openSync, readSync, unlinkSync, writeSync, constants as fsc } from 'node:fs'

const run = promisify(execFile)

/** Makes `file` a FIFO of mode 0600 (replacing anything else found there). */
export async function ensureFifo (file: string): Promise<void> {
  try {
    if (lstatSync(file).isFIFO()) return
    unlinkSync(file)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  // Node has no mkfifo(3); coreutils' mkfifo is everywhere the agent runs.
  await run('mkfifo', ['-m', '600', file], { timeout: 5_000 })
}

/** An fd for the child's stdin. O_RDWR on a FIFO does not block (Linux) and keeps a writer alive. */
export function openFifoForChild (file: string): number {
  return openSync(file, fsc.O_RDWR | fsc.O_NOFOLLOW)
}

/** An fd for the child's stdout and stderr, appending (so truncation by rotation works). */
export function openLogForChild (file: string): number {
  return openSync(file, fsc.O_WRONLY | fsc.O_APPEND | fsc.O_CREAT | fsc.O_NOFOLLOW, 0o600)
}

/**
 * Writes one line to the console FIFO without ever blocking the agent: with nobody reading it the
 * open fails (ENXIO), and with the pipe full (a game that does not read its input) the write fails
 * (EAGAIN). Lines up to PIPE_BUF (4096 bytes) are written atomically.
 */
export function writeConsoleLine (file: string, line: string): void {
  const fd = openSync(file, fsc.O_WRONLY | fsc.O_NONBLOCK | fsc.O_NOFOLLOW)
  try {
    if (!fstatSync(fd).isFIFO()) throw new Error('console input is not a FIFO')
    const data = Buffer.from(`${line}\n`, 'utf8')
    const written = writeSync(fd, data)
    if (written !== data.length) throw new Error(`only ${written} of ${data.length} bytes written`)
  } finally {
    closeSync(fd)
  }
}

/** The last `maxBytes` of a file (for seeding the replay buffer after an agent restart). */
export function readTail (file: string, maxBytes: number): Buffer {
  let fd: number
  try {
    fd = openSync(file, fsc.O_RDONLY | fsc.O_NOFOLLOW)
  } catch {
    return Buffer.alloc(0)
  }
  try {
    const size = fstatSync(fd).size
    const length = Math.min(size, maxBytes)
    const buf = Buffer.alloc(length)
    const n = readSync(fd, buf, 0, length, size - length)
    return buf.subarray(0, n)
  } finally {
    closeSync(fd)
  }
}
