// Deleting a server's working folder. When the agent runs as root, that folder belongs to the game
// user, and a game (or whoever controls it) may have planted symlinks in it (`world -> /etc`), or
// may swap a subfolder for such a symlink while the removal walks it. A root process that follows
// either deletes files anywhere on the host.
//
// Why `rm -rf --one-file-system` run *as the game user* rather than fs.rm as root with lstat
// checks: lstat-then-remove by path is exactly the check-then-use race a swap wins (the check sees
// a folder, the removal meets a symlink), and Node's recursive rm walks by path. GNU rm walks with
// fts on directory descriptors and never follows symlinks; and even if some path were followed,
// the walk only has the game user's rights: it can delete nothing the game itself could not
// already delete. `--one-file-system` keeps it out of anything mounted inside the folder.
//
// The game user cannot unlink its folder's own entry (servers/ belongs to root), so root finishes
// with rmdir, which removes an empty folder and never follows a symlink (ENOTDIR). What the game
// user could not delete (something another user left in the folder) is left there and logged.
import { spawn } from 'node:child_process'
import { lstatSync, rmdirSync, rmSync, unlinkSync } from 'node:fs'
import { GAME_PATH } from './environment.ts'

/** The game user (paths.ts's Owner; not imported from there, which imports this file). */
interface Owner { uid: number, gid: number }

/** A removal that takes longer than this is ended (it is retried at the next server.removed). */
const RM_TIMEOUT_MS = 10 * 60_000

export interface RemoveResult {
  removed: boolean
  /** Why some of it is still there. */
  reason?: string
}

/** Removes `dir` and everything in it without following symlinks; with `owner`, only with that user's rights. */
export async function removeTree (dir: string, owner?: Owner): Promise<RemoveResult> {
  const top = lstatOrUndefined(dir)
  if (top === undefined) return { removed: true }
  if (!top.isDirectory()) {
    unlinkSync(dir) // a symlink itself is removed, never what it points to
    return { removed: true }
  }
  if (owner === undefined) {
    // The agent's own user runs the games too: it gains nothing by following a link they planted.
    rmSync(dir, { recursive: true, force: true })
    return { removed: true }
  }
  const rm = await runRm(dir, owner)
  try {
    rmdirSync(dir)
    return { removed: true }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT') return { removed: true }
    return { removed: false, reason: `${code ?? (err as Error).message}${rm === '' ? '' : `; rm as the game user: ${rm}`}` }
  }
}

/** Runs rm as `owner`; resolves with its error output ('' on success), bounded. */
async function runRm (dir: string, owner: Owner): Promise<string> {
  return await new Promise((resolve) => {
    const child = spawn('rm', ['-rf', '--one-file-system', '--', dir], {
      cwd: '/',
      env: { PATH: GAME_PATH, LANG: 'C' },
      uid: owner.uid,
      gid: owner.gid,
      stdio: ['ignore', 'ignore', 'pipe'],
      timeout: RM_TIMEOUT_MS,
      killSignal: 'SIGKILL'
    })
    let stderr = ''
    child.stderr.on('data', (chunk: Buffer) => { if (stderr.length < 4096) stderr += chunk.toString('utf8') })
    child.once('error', (err) => resolve(err.message))
    child.once('close', (code, signal) => {
      resolve(code === 0 ? '' : (stderr.trim().split('\n').slice(0, 3).join('; ') || `exit ${code ?? signal ?? '?'}`).slice(0, 512))
    })
  })
}

function lstatOrUndefined (p: string) {
  try {
    return lstatSync(p)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
}
