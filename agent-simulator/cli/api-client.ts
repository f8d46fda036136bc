// The hub's REST API as the simulator uses it: fetch with a deadline on every request, the session
// token attached, and errors that carry the hub's `{ error: { code, message } }`.

const REQUEST_TIMEOUT_MS = 30_000

export class ApiError extends Error {
  override name = 'ApiError'
  readonly status: number
  readonly code: string | undefined
  readonly hubMessage: string | undefined

  constructor (method: string, path: string, status: number, body: unknown) {
    const error = (body as { error?: { code?: string, message?: string } } | undefined)?.error
    super(`${method} ${path}: HTTP ${status}${error === undefined ? '' : ` ${error.code ?? ''} ${error.message ?? ''}`}`)
    this.status = status
    this.code = error?.code
    this.hubMessage = error?.message
  }

  /** The hub has no such route (yet): a 404 from its not-found handler, not from a handler. */
  get routeMissing (): boolean {
    return this.status === 404 && this.hubMessage?.startsWith('no route ') === true
  }
}

export interface ApiClient {
  readonly baseUrl: string
  /** The session token after login (panels connect with it). */
  readonly token: string | undefined
  login (username: string, password: string): Promise<void>
  request<T = any> (method: string, path: string, body?: unknown): Promise<T>
}

export function createApiClient (baseUrl: string): ApiClient {
  let token: string | undefined
  async function request<T> (method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = {}
    if (token !== undefined) headers.authorization = `Bearer ${token}`
    if (body !== undefined) headers['content-type'] = 'application/json'
    const res = await fetch(baseUrl + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS)
    })
    const text = await res.text()
    const parsed = text === '' ? undefined : res.headers.get('content-type')?.includes('json') === true ? JSON.parse(text) : text
    if (!res.ok) throw new ApiError(method, path, res.status, parsed)
    return parsed as T
  }
  return {
    baseUrl,
    get token () { return token },
    async login (username, password) {
      const res = await request<{ token: string }>('POST', '/api/auth/login', { username, password })
      token = res.token
    },
    request
  }
}

/** Runs `fn` over `items` with at most `concurrency` in flight; results in input order. */
export async function mapLimit<T, R> (items: readonly T[], concurrency: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length)
  let next = 0
  const lane = async () => {
    while (next < items.length) {
      const i = next++
      results[i] = await fn(items[i] as T, i)
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, lane))
  return results
}
