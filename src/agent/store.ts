// Small state files written atomically (temp file, then rename), so a crash or a SIGKILL of the
// agent leaves either the old or the new version, never half of one. No fsync: what these files
// protect against is the agent's own death, after which the kernel still holds every write. A power
// loss also ends every game, and the one thing that must not go backwards, a server's seq, is put
// right by the hub (welcome.lastSeq is the larger of the two). fsync per status cost seconds when
// 100 servers started at once (bench/results/agent.md).
import { closeSync, openSync, readFileSync, renameSync, unlinkSync, writeSync, constants as fsc } from 'node:fs'

export function writeJsonAtomic (file: string, value: unknown): void {
  const tmp = `${file}.tmp`
  // O_NOFOLLOW: a symlink planted at the temp name must not redirect the write.
  const fd = openSync(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_TRUNC | fsc.O_NOFOLLOW, 0o600)
  try {
    writeSync(fd, JSON.stringify(value))
  } finally {
    closeSync(fd)
  }
  renameSync(tmp, file)
}

/** The parsed file, or undefined when it is missing or not JSON (the caller validates its shape). */
export function readJson (file: string): unknown {
  let text: string
  try {
    const fd = openSync(file, fsc.O_RDONLY | fsc.O_NOFOLLOW)
    try {
      text = readFileSync(fd, 'utf8')
    } finally {
      closeSync(fd)
    }
  } catch {
    return undefined
  }
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

export function removeFile (file: string): void {
  try {
    unlinkSync(file)
  } catch {}
}
