// Who may open a console link (docs/architecture.md "Across hubs"): a hub of the same database.
// Both ends prove it with a short-lived JWT (HS256) signed with the secret the hubs share in the
// database (hub_secrets, "console-link"): the dialling hub in its upgrade request (audience: the
// hub it dials), the dialled hub in its first frame (audience: the dialler, bound to the
// dialler's token by `nonce`). So a hub sends console lines only to a hub that holds the secret,
// and takes them only from one, whatever address a watch advertised.
// - `use` tells the two kinds apart: a welcome (seen by whoever the dialler reached) never opens
//   a link to the dialler.
// - A dial token names the address it was sent to (`addr`) and the dialled hub takes it only at
//   its own address: a token a hub sent to an address a forged watch NOTIFY advertised opens
//   nothing at the real hub.
// - A dial token opens one link: its nonce is remembered until the token expires, so a copied
//   one (ws:// on a shared network) cannot open a second.
import { randomUUID } from 'node:crypto'
import { jwtVerify, SignJWT } from 'jose'
import { isCanonicalUuid } from '../../agent-protocol/ids.ts'

const ALG = 'HS256'
/** Long enough for a dial across a busy network, short enough that a copied token soon expires. */
const LIFETIME_S = 60
/** Hubs on different hosts: their clocks may disagree by this much. */
const CLOCK_TOLERANCE_S = 30
/** Dial nonces remembered at most (a few dials per hub pair per minute are expected): over it, dials are refused. */
const MAX_SEEN = 10_000

const subject = (hubId: string): string => `hub:${hubId}`

export interface LinkClaims {
  /** The hub that signed it. */
  from: string
  /** The token's id (the dialler's), or the dialler's token id echoed back (the answer's). */
  nonce: string
}

/** What a token is for: opening a link to the address dialled, or answering the dial `nonce`. */
export type LinkUse = { use: 'dial', addr: string } | { use: 'welcome', nonce: string }

export interface LinkAuth {
  /** A token for `to`, proving this hub. */
  sign (to: string, use: LinkUse): Promise<{ token: string, nonce: string }>
  /**
   * The claims of a token meant for this hub and this use (a dial: at `addr`, this hub's own
   * address, and not seen before), or undefined for any bad token (never throws).
   */
  verify (token: string, use: LinkUse): Promise<LinkClaims | undefined>
}

export function createLinkAuth (secret: Uint8Array, hubId: string, now: () => number = Date.now): LinkAuth {
  /** Dial nonces accepted → when their token can no longer pass (ms). */
  const seen = new Map<string, number>()
  const firstUse = (nonce: string): boolean => {
    const t = now()
    if (seen.size >= MAX_SEEN) for (const [n, until] of seen) if (until < t) seen.delete(n)
    if (seen.has(nonce) || seen.size >= MAX_SEEN) return false
    seen.set(nonce, t + (LIFETIME_S + 2 * CLOCK_TOLERANCE_S) * 1_000)
    return true
  }
  return {
    async sign (to, use) {
      const nonce = use.use === 'welcome' ? use.nonce : randomUUID()
      const token = await new SignJWT({ nonce, use: use.use, ...(use.use === 'dial' ? { addr: use.addr } : {}) })
        .setProtectedHeader({ alg: ALG })
        .setIssuer(subject(hubId))
        .setAudience(subject(to))
        .setIssuedAt(Math.floor(now() / 1_000))
        .setExpirationTime(Math.floor(now() / 1_000) + LIFETIME_S)
        .sign(secret)
      return { token, nonce }
    },
    async verify (token, use) {
      if (token.length > 1_024) return undefined
      try {
        const { payload } = await jwtVerify(token, secret, {
          algorithms: [ALG],
          audience: subject(hubId),
          maxTokenAge: `${LIFETIME_S + CLOCK_TOLERANCE_S}s`,
          clockTolerance: CLOCK_TOLERANCE_S,
          currentDate: new Date(now())
        })
        const from = payload.iss?.startsWith('hub:') === true ? payload.iss.slice(4) : undefined
        if (!isCanonicalUuid(from) || from === hubId || typeof payload.nonce !== 'string' || payload.nonce.length > 64) return undefined
        if (payload.use !== use.use) return undefined
        if (use.use === 'welcome' && payload.nonce !== use.nonce) return undefined
        if (use.use === 'dial' && (payload.addr !== use.addr || !firstUse(payload.nonce))) return undefined
        return { from, nonce: payload.nonce }
      } catch {
        return undefined
      }
    }
  }
}
