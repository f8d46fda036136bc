// Passwords are stored as bcrypt hashes (DESIGN.md); this is the only code that makes or checks them.
// @node-rs/bcrypt (a prebuilt Rust binding from the npm registry) hashes on libuv's thread pool, so
// a check (~70-110 ms of CPU) never blocks the event loop; it reads the $2a/$2b/$2y hashes that
// bcryptjs wrote before. Checks are bounded: at most `concurrency` at once and `queue` waiting.
import { randomBytes } from 'node:crypto'
import bcrypt from '@node-rs/bcrypt'

/** bcrypt cost 10: about 70-110 ms per hash here; OWASP's floor for bcrypt. */
export const BCRYPT_COST = 10

export const hashPassword = async (password: string): Promise<string> => await bcrypt.hash(password, BCRYPT_COST)

// Compared against when the username is unknown, so that a miss costs the same bcrypt time
// as a wrong password and usernames cannot be probed by timing.
const DUMMY_HASH = bcrypt.hashSync(randomBytes(16).toString('hex'), BCRYPT_COST)

export async function verifyPassword (password: string, hash: string | undefined): Promise<boolean> {
  let ok = false
  try {
    ok = await bcrypt.verify(password, hash ?? DUMMY_HASH)
  } catch {} // a malformed stored hash matches nothing
  return ok && hash !== undefined
}

export interface PasswordChecker {
  /** The check's answer, or undefined at once when `concurrency` checks run and `queue` wait already. */
  verify (password: string, hash: string | undefined): Promise<boolean> | undefined
  readonly running: number
  readonly waiting: number
}

export function createPasswordChecker ({ concurrency, queue }: { concurrency: number, queue: number }): PasswordChecker {
  let running = 0
  const waiters: Array<() => void> = []
  const run = async (password: string, hash: string | undefined): Promise<boolean> => {
    if (running >= concurrency) await new Promise<void>(resolve => waiters.push(resolve))
    else running++
    try {
      return await verifyPassword(password, hash)
    } finally {
      const next = waiters.shift()
      if (next === undefined) running--
      else next() // the slot passes on: `running` stays
    }
  }
  return {
    verify (password, hash) {
      if (running >= concurrency && waiters.length >= queue) return undefined
      return run(password, hash)
    },
    get running () { return running },
    get waiting () { return waiters.length }
  }
}
