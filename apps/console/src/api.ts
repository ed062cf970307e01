import { YlogClient, YlogClientError } from '@ylog/client'

const TOKEN_KEY = 'ylog.readToken'

/** The read token, kept for this tab's session only (sessionStorage), never in localStorage or a cookie. */
export function storedToken(): string | undefined {
  return sessionStorage.getItem(TOKEN_KEY) ?? undefined
}

export function storeToken(token: string): void {
  if (token === '') sessionStorage.removeItem(TOKEN_KEY)
  else sessionStorage.setItem(TOKEN_KEY, token)
}

// The client calls its fetch as a method of its own objects; the browser's fetch refuses any `this` but window.
const boundFetch: typeof fetch = (input, init) => globalThis.fetch(input, init)

/** A client for the node that served this page, with the session's token. */
export function makeClient(): YlogClient {
  return new YlogClient({ url: location.origin, token: storedToken(), fetch: boundFetch, timeoutMs: 15_000 })
}

let current = makeClient()
const tokenListeners = new Set<() => void>()

export function client(): YlogClient {
  return current
}

/** Replaces the token and tells every page to load again. */
export function setToken(token: string): void {
  storeToken(token)
  current = makeClient()
  for (const listener of tokenListeners) listener()
}

export function onTokenChange(listener: () => void): () => void {
  tokenListeners.add(listener)
  return () => tokenListeners.delete(listener)
}

/** A refusal that a token would fix: the app asks for one. */
export function needsToken(err: unknown): boolean {
  return err instanceof YlogClientError && (err.status === 401 || err.code === 'UNAUTHORIZED')
}

export function describe(err: unknown): string {
  if (err instanceof YlogClientError) return `${err.code}: ${err.message}`
  return err instanceof Error ? err.message : String(err)
}

/** GET with the session's token, for routes the client has no call for (/metrics, /api/export). */
export async function getText(path: string): Promise<string> {
  const token = storedToken()
  const res = await fetch(path, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` } })
  if (!res.ok)
    throw new YlogClientError(res.status === 401 ? 'UNAUTHORIZED' : 'BAD_RESPONSE', `${path} answered ${res.status}`, {
      status: res.status,
    })
  return res.text()
}
