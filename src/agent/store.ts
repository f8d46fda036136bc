// Durable small files: JSON state written atomically (temp file, fsync, rename), so a crash or a
// SIGKILL of the agent leaves either the old or the new version, never half of one.
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync, constants as fsc } from 'node:fs'

export function writeJsonAtomic (file: string, value: unknown): void {
  const tmp = `${file}.tmp`
  // O_NOFOLLOW: a symlink planted at the temp name must not redirect the write.
  const fd = openSync(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_TRUNC | fsc.O_NOFOLLOW, 0o600)
  try {
    writeSync(fd, JSON.stringify(value))
    fsyncSync(fd)
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
