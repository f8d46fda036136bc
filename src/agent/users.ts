// The unprivileged system user games run as when the agent is root: looked up in the passwd
// database, created with useradd when missing (system account, own group, no login shell, no home).
// A game never runs as root: a user that resolves to uid 0 is refused.
import { execFileSync } from 'node:child_process'
import type { Owner } from './paths.ts'

const USER_NAME = /^[a-z_][a-z0-9_-]{0,31}$/

export function lookupUser (name: string): Owner | undefined {
  try {
    const uid = Number(execFileSync('id', ['-u', '--', name], { encoding: 'utf8', timeout: 5_000, stdio: ['ignore', 'pipe', 'ignore'] }).trim())
    const gid = Number(execFileSync('id', ['-g', '--', name], { encoding: 'utf8', timeout: 5_000, stdio: ['ignore', 'pipe', 'ignore'] }).trim())
    return Number.isInteger(uid) && Number.isInteger(gid) ? { uid, gid } : undefined
  } catch {
    return undefined
  }
}

export function ensureGameUser (name: string): Owner {
  if (!USER_NAME.test(name)) throw new Error(`game user name ${JSON.stringify(name)} is not a valid user name`)
  let owner = lookupUser(name)
  if (owner === undefined) {
    execFileSync('useradd', ['--system', '--user-group', '--no-create-home', '--home-dir', '/nonexistent',
      '--shell', '/usr/sbin/nologin', '--comment', 'game-panel game servers', name], { timeout: 30_000, stdio: 'ignore' })
    owner = lookupUser(name)
  }
  if (owner === undefined) throw new Error(`game user ${name} could not be created`)
  if (owner.uid === 0 || owner.gid === 0) throw new Error(`game user ${name} is root; games never run as root`)
  return owner
}
