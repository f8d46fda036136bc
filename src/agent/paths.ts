// The agent's folders under AGENT_DATA_DIR, prepared without following symlinks:
//   servers/<id>/   the game's working directory (owned by the game user when the agent is root)
//   run/<id>/       the agent's own files of that server: console FIFO, output log, state, config.
// The agent's files are kept out of the game's folder on purpose: a game (or whoever controls it)
// could otherwise swap them for symlinks or hard links to files the agent would then write as root.
import { chmodSync, lchownSync, lstatSync, mkdirSync, rmSync, type Stats } from 'node:fs'
import path from 'node:path'
import { removeTree, type RemoveResult } from './remove-dir.ts'

const SERVER_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

export interface Owner { uid: number, gid: number }

export interface ServerPaths {
  work: string
  run: string
  fifo: string
  log: string
  state: string
  config: string
}

export class UnsafePathError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'UnsafePathError'
  }
}

/** Only canonical ids name folders: anything else (`..`, `/`, upper case) could escape the data folder. */
export function isServerId (id: unknown): id is string {
  return typeof id === 'string' && SERVER_ID.test(id)
}

export function serverPaths (dataDir: string, serverId: string): ServerPaths {
  if (!isServerId(serverId)) throw new UnsafePathError(`server id ${JSON.stringify(String(serverId).slice(0, 64))} is not a lowercase UUID`)
  const run = path.join(dataDir, 'run', serverId)
  return {
    work: path.join(dataDir, 'servers', serverId),
    run,
    fifo: path.join(run, 'console.fifo'),
    log: path.join(run, 'output.log'),
    state: path.join(run, 'state.json'),
    config: path.join(run, 'config.json')
  }
}

/**
 * Makes `dir` a real directory with `mode` (and `owner`), creating it if needed. An existing symlink
 * or non-directory at that path is refused, never followed or replaced.
 */
export function ensureDir (dir: string, mode: number, owner?: Owner): void {
  let stat = lstatOrUndefined(dir)
  if (stat === undefined) {
    mkdirSync(dir, { mode })
    stat = lstatSync(dir)
  }
  if (stat.isSymbolicLink()) throw new UnsafePathError(`${dir} is a symlink; refusing to follow it`)
  if (!stat.isDirectory()) throw new UnsafePathError(`${dir} is not a directory`)
  if ((stat.mode & 0o7777) !== mode) chmodSync(dir, mode)
  if (owner !== undefined && (stat.uid !== owner.uid || stat.gid !== owner.gid)) lchownSync(dir, owner.uid, owner.gid)
}

/** The data folder and its two parents of server folders. */
export function prepareDataDir (dataDir: string, asRoot: boolean): void {
  // The game user must traverse (x) the data folder and servers/ to reach its own folder; it may
  // list neither. As a normal user everything belongs to that user anyway.
  makeParents(path.dirname(path.resolve(dataDir)))
  ensureDir(dataDir, asRoot ? 0o711 : 0o700)
  ensureDir(path.join(dataDir, 'servers'), asRoot ? 0o711 : 0o700)
  ensureDir(path.join(dataDir, 'run'), 0o700)
}

export function prepareServerDirs (paths: ServerPaths, owner?: Owner): void {
  ensureDir(paths.work, 0o750, owner)
  ensureDir(paths.run, 0o700)
}

/**
 * Deletes a server's folders without following symlinks: the game's folder with the game user's
 * rights only (remove-dir.ts says why), the agent's own run/ folder (no game can write there) as is.
 */
export async function removeServerDirs (paths: ServerPaths, owner?: Owner): Promise<RemoveResult> {
  const result = await removeTree(paths.work, owner)
  rmSync(paths.run, { recursive: true, force: true })
  return result
}

/**
 * The data folder's missing parents, one level at a time (mode 0755). Not `mkdirSync(recursive)`:
 * it spins forever on some pseudo file systems (seen under /proc) instead of failing.
 */
function makeParents (dir: string): void {
  if (lstatOrUndefined(dir) !== undefined) return
  const parent = path.dirname(dir)
  if (parent !== dir) makeParents(parent)
  try {
    mkdirSync(dir, { mode: 0o755 })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
  }
}

function lstatOrUndefined (p: string): Stats | undefined {
  try {
    return lstatSync(p)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
}
