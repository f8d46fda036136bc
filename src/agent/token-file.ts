// AGENT_TOKEN_FILE: the node token read from a file instead of the environment. An environment
// variable stays readable in /proc/<pid>/environ for the agent's whole life (deleting it from
// process.env does not change that copy), by every process of the same user; a file with mode 0600
// (or a systemd credential, LoadCredential=) does not leak that way. As ssh does with private
// keys, a token file that its group or others may access is refused, not silently used.
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs'

/** A token is a few hundred bytes; anything much larger is not a token file. */
const MAX_TOKEN_FILE_BYTES = 16 * 1024

export class TokenFileError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'TokenFileError'
  }
}

/**
 * Reads the token from `file`: a regular file owned by the agent's user (or root), with no
 * permission bits for group or others; surrounding whitespace (a trailing newline) is dropped.
 * The checks run on the opened descriptor (fstat), so the file cannot be swapped in between.
 */
export function readTokenFile (file: string, uid = process.getuid?.() ?? 0): string {
  let fd: number
  try {
    // O_NONBLOCK: a FIFO at that path must not hang the agent's start (it is refused below).
    fd = openSync(file, constants.O_RDONLY | constants.O_NOCTTY | constants.O_NONBLOCK)
  } catch (err) {
    throw new TokenFileError(`AGENT_TOKEN_FILE: cannot open ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
  }
  try {
    const st = fstatSync(fd)
    if (!st.isFile()) throw new TokenFileError(`AGENT_TOKEN_FILE: ${file} is not a regular file`)
    if (st.uid !== uid && st.uid !== 0) {
      throw new TokenFileError(`AGENT_TOKEN_FILE: ${file} belongs to uid ${st.uid}; it must belong to the agent's user (uid ${uid}) or root`)
    }
    if ((st.mode & 0o077) !== 0) {
      const mode = (st.mode & 0o777).toString(8).padStart(4, '0')
      throw new TokenFileError(`AGENT_TOKEN_FILE: permissions ${mode} for ${file} are too open: its group and others must have no access (chmod 600 ${file})`)
    }
    if (st.size > MAX_TOKEN_FILE_BYTES) throw new TokenFileError(`AGENT_TOKEN_FILE: ${file} is larger than ${MAX_TOKEN_FILE_BYTES} bytes; not a token`)
    const buffer = Buffer.alloc(MAX_TOKEN_FILE_BYTES + 1)
    let length = 0
    for (let n = -1; n !== 0 && length < buffer.length;) {
      n = readSync(fd, buffer, length, buffer.length - length, null)
      length += n
    }
    if (length > MAX_TOKEN_FILE_BYTES) throw new TokenFileError(`AGENT_TOKEN_FILE: ${file} is larger than ${MAX_TOKEN_FILE_BYTES} bytes; not a token`)
    return buffer.toString('utf8', 0, length).trim()
  } finally {
    closeSync(fd)
  }
}
