import type { FastifyError } from 'fastify'
import { YlogError } from '@ylog/core'

export const BODY_LIMIT = 1024 * 1024

/** The body of every error response. */
export interface ErrorBody {
  error: { code: string; message: string }
}

/** Kinds a client may write; `gap` entries are the node's own. */
export const CLIENT_KINDS = ['transition', 'event'] as const

/** An error carrying the status and code to answer with. */
export function httpError(statusCode: number, code: string, message: string): FastifyError {
  return Object.assign(new Error(message), { statusCode, code, name: 'HttpError' }) as FastifyError
}

export function classify(err: FastifyError): { status: number; code: string; message: string } {
  if (err instanceof YlogError) {
    if (err.code.startsWith('BAD_')) return { status: 400, code: err.code, message: err.message }
    if (err.code === 'ENTRY_TOO_LARGE') return { status: 413, code: err.code, message: err.message }
    if (err.code === 'STORE_FAILED' || err.code === 'CLOSED' || err.code === 'INGEST_FULL') return { status: 503, code: err.code, message: err.message }
    return { status: 500, code: err.code, message: err.message }
  }
  if (err.validation !== undefined) return { status: 400, code: 'BAD_REQUEST', message: err.message }
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { status: 413, code: 'BODY_TOO_LARGE', message: `request body is larger than ${BODY_LIMIT} bytes; one entry encodes to at most 64 KiB` }
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { status: 415, code: 'UNSUPPORTED_MEDIA_TYPE', message: 'send the body as JSON with the header "Content-Type: application/json"' }
    case 'FST_ERR_BAD_URL':
      return { status: 400, code: 'BAD_URL', message: `${err.message}: percent-escapes in the path must be valid UTF-8` }
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return { status: 400, code: 'BAD_JSON', message: err.message }
  }
  const status = err.statusCode ?? 500
  if (status >= 400 && status < 500) {
    // Fastify's own codes (FST_ERR_…) name its internals, not the client's mistake: answer in our vocabulary.
    const ours = err.code !== undefined && !err.code.startsWith('FST_')
    return { status, code: ours ? err.code : (GENERIC_CODES[status] ?? 'BAD_REQUEST'), message: err.message }
  }
  return { status: 500, code: 'INTERNAL', message: 'internal error; the node logged the details' }
}

const GENERIC_CODES: Readonly<Record<number, string>> = {
  400: 'BAD_REQUEST',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  408: 'REQUEST_TIMEOUT',
  413: 'BODY_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  431: 'HEADERS_TOO_LARGE',
}

/**
 * The answer to a request Node's HTTP parser could not read (before fastify
 * sees it), in the shape of every other error: a URL with raw non-ASCII
 * characters (a cursor pasted with its ellipsis), a broken header, headers
 * too large, a request too slow to arrive.
 */
export function clientErrorResponse(err: Error & { code?: string }): string | undefined {
  const [status, reason, code, message] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'Request Header Fields Too Large', 'HEADERS_TOO_LARGE', 'the request headers are too large']
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'Request Timeout', 'REQUEST_TIMEOUT', 'the request did not arrive in time']
        : [400, 'Bad Request', 'BAD_REQUEST', `malformed HTTP request (${err.code ?? err.message}): percent-encode characters outside ASCII in the URL, e.g. with curl --data-urlencode or encodeURIComponent`]
  if (err.code === 'ECONNRESET') return undefined
  const body = JSON.stringify({ error: { code, message } } satisfies ErrorBody)
  return `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`
}

interface AjvError {
  keyword: string
  instancePath: string
  message?: string
  params: Record<string, unknown>
  data?: unknown
  parentSchema?: { properties?: Record<string, unknown> }
}

/** Turns ajv's first error into a sentence naming the field, the value and what is allowed. */
export function formatSchemaErrors(errors: readonly AjvError[], dataVar: string): Error {
  const e = errors[0]
  if (e === undefined) return new Error(`${dataVar} is invalid`)
  const where = dataVar === 'querystring' ? 'query' : dataVar
  const field = `${where}${e.instancePath.replace(/\/(\d+)/g, '[$1]').replaceAll('/', '.')}`
  const allowed = Object.keys(e.parentSchema?.properties ?? {}).join(', ')
  switch (e.keyword) {
    case 'required':
      return new Error(`${field} is missing the required field "${String(e.params.missingProperty)}"`)
    case 'additionalProperties':
      return new Error(`${field} has an unknown field "${String(e.params.additionalProperty)}"; allowed: ${allowed}`)
    case 'type':
      return new Error(`${field} must be ${article(String(e.params.type))}, got ${describe(e.data)}`)
    case 'enum': {
      const allowedValues = (e.params.allowedValues as unknown[] | undefined) ?? []
      if (e.data === 'gap' && !allowedValues.includes('gap')) return new Error(`${field} "gap" is not accepted from clients: the node writes gap entries itself; use ${CLIENT_KINDS.map((k) => `"${k}"`).join(' or ')}`)
      return new Error(`${field} must be one of ${allowedValues.map((k) => JSON.stringify(k)).join(', ')}, got ${describe(e.data)}`)
    }
    default:
      return new Error(`${field} ${e.message ?? 'is invalid'}, got ${describe(e.data)}`)
  }
}

function article(type: string): string {
  return type === 'object' ? 'a JSON object' : type === 'integer' ? 'an integer' : type === 'array' ? 'an array' : `a ${type}`
}

function describe(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'object') return 'an object'
  if (typeof value === 'string') return quote(value)
  return `${typeof value} ${String(value)}`
}

export function quote(text: string): string {
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text)
}
