// REST client of the hub (docs/protocol.md): bearer session token kept in sessionStorage,
// errors as ApiError with the hub's code, the Retry-After wait and any extra fields.
const TOKEN_KEY = 'hub.session'

export class ApiError extends Error {
  constructor (status, code, message, details = {}, retryAfterS) {
    super(message)
    this.status = status
    this.code = code
    this.details = details
    this.retryAfterS = retryAfterS
  }
}

export function createApi ({ onSignedOut }) {
  let token = sessionStorage.getItem(TOKEN_KEY)

  async function request (method, path, body) {
    const headers = {}
    if (token !== null) headers.authorization = `Bearer ${token}`
    if (body !== undefined) headers['content-type'] = 'application/json'
    let res
    try {
      res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
    } catch {
      throw new ApiError(0, 'UNREACHABLE', 'The hub cannot be reached. Check the connection and try again.')
    }
    const text = await res.text()
    let json
    try { json = text === '' ? undefined : JSON.parse(text) } catch { json = undefined }
    if (!res.ok) {
      const err = json?.error ?? {}
      const retry = Number(res.headers.get('retry-after'))
      if (res.status === 401 && token !== null && path !== '/api/auth/login') {
        setToken(null)
        onSignedOut('Your session ended. Please sign in again.')
      }
      throw new ApiError(res.status, err.code ?? `HTTP_${res.status}`, err.message ?? res.statusText, err, Number.isFinite(retry) && retry > 0 ? retry : undefined)
    }
    return json
  }

  function setToken (value) {
    token = value
    if (value === null) sessionStorage.removeItem(TOKEN_KEY)
    else sessionStorage.setItem(TOKEN_KEY, value)
  }

  /** Every item of a paged list (`{items, next}` with `after`). */
  async function all (path, limit = 500) {
    const items = []
    let after
    for (let i = 0; i < 1000; i++) {
      const sep = path.includes('?') ? '&' : '?'
      const page = await request('GET', `${path}${sep}limit=${limit}${after === undefined ? '' : `&after=${after}`}`)
      items.push(...page.items)
      if (page.next === null || page.next === undefined || page.items.length === 0) break
      after = page.next
    }
    return items
  }

  return {
    get signedIn () { return token !== null },
    get: path => request('GET', path),
    post: (path, body) => request('POST', path, body ?? {}),
    patch: (path, body) => request('PATCH', path, body),
    del: path => request('DELETE', path),
    all,
    async login (username, password) {
      const res = await request('POST', '/api/auth/login', { username, password })
      setToken(res.token)
      return res
    },
    async logout () {
      try { await request('POST', '/api/auth/logout', {}) } catch { /* signed out locally either way */ }
      setToken(null)
    }
  }
}

/** A sentence for an error, with the wait of a 429/503 and the blocking action of a 409. */
export function describeError (err) {
  if (!(err instanceof ApiError)) return String(err?.message ?? err)
  if (err.status === 429 || (err.status === 503 && err.retryAfterS !== undefined)) {
    const wait = err.retryAfterS === undefined ? 'a moment' : `${err.retryAfterS} s`
    return `${err.status === 429 ? 'Too many attempts' : 'The hub is busy'}. Try again in ${wait}.`
  }
  return err.message
}
