// Agent tokens: JWTs the hub signs for its nodes (sub = node id, aud = hub:agent, ver = the
// node's token version). Verification pins the algorithm (EdDSA), the issuer and the audience;
// the caller then compares `ver` with the Node row, which is how a token is revoked.
//
// Keys: a key set `{ keys: [{ kid, privateJwk }] }`, newest first. The newest signs; all verify,
// so a rotation (prepend a new key) does not invalidate tokens already issued. The set comes from
// config (HUB_AGENT_KEYS, for farms of hubs that must share it) or is generated on first start
// into HUB_DATA_DIR/agent-keys.json with mode 0600.
import { randomUUID } from 'node:crypto'
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { exportJWK, generateKeyPair, importJWK, jwtVerify, SignJWT, type JWK, type CryptoKey } from 'jose'

export const AGENT_AUDIENCE = 'hub:agent'
const ALG = 'EdDSA'

export interface AgentTokenClaims {
  nodeId: string
  version: number
}

export interface AgentTokens {
  issue (claims: AgentTokenClaims): Promise<string>
  /** The claims of a valid token, or undefined for any bad token (never throws). */
  verify (token: string): Promise<AgentTokenClaims | undefined>
}

interface KeyFile { keys: Array<{ kid: string, privateJwk: JWK }> }

export async function generateKeySet (): Promise<KeyFile> {
  const { privateKey } = await generateKeyPair(ALG, { crv: 'Ed25519', extractable: true })
  return { keys: [{ kid: randomUUID(), privateJwk: await exportJWK(privateKey) }] }
}

/** Reads the key set from HUB_DATA_DIR, creating it (0600) on first start. */
export async function loadOrCreateKeySet (dataDir: string): Promise<KeyFile> {
  const file = path.resolve(dataDir, 'agent-keys.json')
  const existing = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined
    throw err
  })
  if (existing !== undefined) return JSON.parse(existing) as KeyFile
  const created = await generateKeySet()
  await mkdir(path.dirname(file), { recursive: true })
  // 'wx': two hubs racing on first start must not overwrite each other's key.
  try {
    await writeFile(file, JSON.stringify(created, null, 2), { mode: 0o600, flag: 'wx' })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return JSON.parse(await readFile(file, 'utf8')) as KeyFile
    throw err
  }
  await chmod(file, 0o600)
  return created
}

export async function createAgentTokens (keySet: KeyFile, issuer: string): Promise<AgentTokens> {
  const keys = new Map<string, { priv: CryptoKey, pub: CryptoKey }>()
  for (const { kid, privateJwk } of keySet.keys) {
    const { d: _d, ...publicJwk } = privateJwk
    keys.set(kid, { priv: await importJWK(privateJwk, ALG) as CryptoKey, pub: await importJWK(publicJwk, ALG) as CryptoKey })
  }
  const signing = keySet.keys[0]
  if (signing === undefined) throw new Error('the agent key set is empty')
  const signKey = (keys.get(signing.kid) as { priv: CryptoKey }).priv

  return {
    async issue ({ nodeId, version }) {
      return await new SignJWT({ ver: version })
        .setProtectedHeader({ alg: ALG, kid: signing.kid, typ: 'JWT' })
        .setSubject(nodeId)
        .setIssuer(issuer)
        .setAudience(AGENT_AUDIENCE)
        .setIssuedAt()
        .sign(signKey)
    },
    async verify (token) {
      try {
        const { payload } = await jwtVerify(token, async header => {
          const key = header.kid === undefined ? undefined : keys.get(header.kid)
          if (key === undefined) throw new Error('unknown kid')
          return key.pub
        }, { algorithms: [ALG], issuer, audience: AGENT_AUDIENCE })
        if (typeof payload.sub !== 'string' || !Number.isSafeInteger(payload.ver)) return undefined
        return { nodeId: payload.sub, version: payload.ver as number }
      } catch {
        return undefined
      }
    }
  }
}
