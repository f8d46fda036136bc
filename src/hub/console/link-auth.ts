// Who may open a console link (docs/architecture.md "Across hubs"): a hub of the same database.
// Both ends prove it with a short-lived JWT (HS256) signed with the secret the hubs share in the
// database (hub_secrets, "console-link"): the dialling hub in its upgrade request (audience: the
// hub it dials), the dialled hub in its first frame (audience: the dialler, bound to the
// dialler's token by `nonce`). So a hub sends console lines only to a hub that holds the secret,
// and takes them only from one, whatever address a watch advertised.
import { randomUUID } from 'node:crypto'
import { jwtVerify, SignJWT } from 'jose'
import { isCanonicalUuid } from '../../agent-protocol/ids.ts'

const ALG = 'HS256'
/** Long enough for a dial across a busy network, short enough that a copied token soon expires. */
const LIFETIME_S = 60
/** Hubs on different hosts: their clocks may disagree by this much. */
const CLOCK_TOLERANCE_S = 30

const subject = (hubId: string): string => `hub:${hubId}`

export interface LinkClaims {
  /** The hub that signed it. */
  from: string
  /** The token's id (the dialler's), or the dialler's token id echoed back (the answer's). */
  nonce: string
}

export interface LinkAuth {
  /** A token for `to`, proving this hub; `nonce` binds an answer to the dialler's token. */
  sign (to: string, nonce?: string): Promise<{ token: string, nonce: string }>
  /** The claims of a token meant for this hub, or undefined for any bad token (never throws). */
  verify (token: string): Promise<LinkClaims | undefined>
}

export function createLinkAuth (secret: Uint8Array, hubId: string): LinkAuth {
  return {
    async sign (to, nonce = randomUUID()) {
      const token = await new SignJWT({ nonce })
        .setProtectedHeader({ alg: ALG })
        .setIssuer(subject(hubId))
        .setAudience(subject(to))
        .setIssuedAt()
        .setExpirationTime(`${LIFETIME_S}s`)
        .sign(secret)
      return { token, nonce }
    },
    async verify (token) {
      if (token.length > 1_024) return undefined
      try {
        const { payload } = await jwtVerify(token, secret, {
          algorithms: [ALG],
          audience: subject(hubId),
          maxTokenAge: `${LIFETIME_S + CLOCK_TOLERANCE_S}s`,
          clockTolerance: CLOCK_TOLERANCE_S
        })
        const from = payload.iss?.startsWith('hub:') === true ? payload.iss.slice(4) : undefined
        if (!isCanonicalUuid(from) || from === hubId || typeof payload.nonce !== 'string' || payload.nonce.length > 64) return undefined
        return { from, nonce: payload.nonce }
      } catch {
        return undefined
      }
    }
  }
}
