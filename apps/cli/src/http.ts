import { errorFromFetch, YlogClientError } from '@ylog/client'
import { YlogError } from '@ylog/core/errors'
import type { GlobalOptions } from './context.js'

/**
 * A raw request to the node, for the routes @ylog/client does not wrap
 * because their bodies are streams (export, import): the same headers and
 * the same errors as the client's calls.
 */
export interface RequestInit {
  query?: Record<string, string | number | undefined>
  body?: Uint8Array
  /** The body's content type. */
  type?: string
}

export async function request(globals: GlobalOptions, method: 'GET' | 'POST', path: string, init: RequestInit = {}): Promise<Response> {
  const search = new URLSearchParams()
  for (const [key, value] of Object.entries(init.query ?? {})) if (value !== undefined) search.set(key, String(value))
  const url = `${globals.url.replace(/\/+$/, '')}${path}${search.size === 0 ? '' : `?${search}`}`
  const headers: Record<string, string> = {}
  if (globals.token !== undefined && globals.token !== '') headers.authorization = `Bearer ${globals.token}`
  if (init.type !== undefined) headers['content-type'] = init.type
  let res: Response
  try {
    res = await fetch(url, { method, headers, body: init.body })
  } catch (err) {
    throw errorFromFetch(err, `${method} ${path}`, false, globals.url)
  }
  if (res.ok) return res
  const text = await res.text().catch(() => '')
  let error: { code?: unknown; message?: unknown } | undefined
  try {
    error = (JSON.parse(text) as { error?: typeof error }).error
  } catch {
    error = undefined
  }
  const code = YlogError.isCode(error?.code) ? error.code : 'BAD_RESPONSE'
  const detail = text === '' ? '' : `: ${text.slice(0, 200)}`
  const message = typeof error?.message === 'string' ? error.message : `${method} ${path}: HTTP ${res.status}${detail}`
  throw new YlogClientError(code, message, { status: res.status })
}
