// Passwords are stored as bcrypt hashes (DESIGN.md); this is the only code that makes or checks them.
import { randomBytes } from 'node:crypto'
import bcrypt from 'bcryptjs'

/** bcrypt cost 10: about 60-80 ms per hash with bcryptjs here; OWASP's floor for bcrypt. */
export const BCRYPT_COST = 10

export const hashPassword = async (password: string): Promise<string> => await bcrypt.hash(password, BCRYPT_COST)

// Compared against when the username is unknown, so that a miss costs the same bcrypt time
// as a wrong password and usernames cannot be probed by timing.
const DUMMY_HASH = bcrypt.hashSync(randomBytes(16).toString('hex'), BCRYPT_COST)

export async function verifyPassword (password: string, hash: string | undefined): Promise<boolean> {
  const ok = await bcrypt.compare(password, hash ?? DUMMY_HASH)
  return ok && hash !== undefined
}
