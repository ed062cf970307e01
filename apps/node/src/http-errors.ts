import type { FastifyError } from 'fastify'
import { YlogError, type YlogErrorCode } from '@ylog/core'

export const BODY_LIMIT = 1024 * 1024

/** The body of every error response. */
export interface ErrorBody {
  error: { code: string; message: string }
}

/** Kinds a client may write; `gap` entries are the node's own. */
export const CLIENT_KINDS = ['transition', 'event'] as const

/** The HTTP status of each error code: one table, checked by the compiler to cover every code. */
export const HTTP_STATUS: Readonly<Record<YlogErrorCode, number>> = {
  BAD_TOPIC: 400,
  BAD_KIND: 400,
  BAD_DATA: 400,
  BAD_TIME: 400,
  ENTRY_TOO_LARGE: 413,
  MALFORMED_ENTRY: 400,
  BAD_SIGNATURE: 400,
  BAD_KEY: 400,
  KEY_FILE: 500,
  BAD_CURSOR: 400,
  BAD_ARGUMENT: 400,
  NOT_MEMBER: 403,
  BROKEN_CHAIN: 400,
  FORKED: 409,
  OWN_ENTRIES: 409,
  CLOSED: 503,
  INGEST_FULL: 503,
  CHAIN_MISMATCH: 500,
  SIGNER_FAILED: 503,
  STORE_FAILED: 503,
  STORE_FULL: 503,
  STORE_IO: 503,
  STORE_CORRUPT: 500,
  NOT_A_STORE: 500,
  STORE_TOO_NEW: 500,
  STORE_TOO_OLD: 500,
  STORE_REPLACED: 500,
  BAD_REQUEST: 400,
  BAD_JSON: 400,
  BAD_URL: 400,
  BAD_CONSUMER: 400,
  CURSOR_AHEAD: 400,
  CURSOR_BACKWARDS: 409,
  BAD_IDEMPOTENCY_KEY: 400,
  IDEMPOTENCY_CONFLICT: 409,
  UNAUTHORIZED: 401,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  REQUEST_TIMEOUT: 408,
  BODY_TOO_LARGE: 413,
  HEADERS_TOO_LARGE: 431,
  UNSUPPORTED_MEDIA_TYPE: 415,
  INTERNAL: 500,
  CONFIG: 500,
  DATA_DIR: 500,
  LOCKED: 500,
  ADDRESS_IN_USE: 500,
  NO_PERMISSION: 500,
  NO_ADDRESS: 500,
  NO_STORE: 500,
  PROTOCOL: 400,
  // Client-side codes: a node never answers them, but a proxy's 502/504 means the same.
  NETWORK: 502,
  TIMEOUT: 504,
  BAD_RESPONSE: 502,
  LAGGED: 409,
}

/** Codes for statuses fastify raises itself, which carry its internal FST_ codes. */
const CODE_OF_STATUS: Readonly<Record<number, YlogErrorCode>> = {
  400: 'BAD_REQUEST',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  408: 'REQUEST_TIMEOUT',
  413: 'BODY_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  431: 'HEADERS_TOO_LARGE',
}

/** The status, code and message to answer an error with: ours by the table, fastify's translated into our codes. */
export function classify(err: FastifyError): { status: number; code: YlogErrorCode; message: string } {
  if (err instanceof YlogError) {
    return { status: HTTP_STATUS[err.code], code: err.code, message: err.message }
  }
  if (err.validation !== undefined) return { status: 400, code: 'BAD_REQUEST', message: err.message }
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return {
        status: 413,
        code: 'BODY_TOO_LARGE',
        message: `request body is larger than ${BODY_LIMIT} bytes; one entry encodes to at most 64 KiB`,
      }
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return {
        status: 415,
        code: 'UNSUPPORTED_MEDIA_TYPE',
        message: 'send the body as JSON with the header "Content-Type: application/json"',
      }
    case 'FST_ERR_BAD_URL':
      return { status: 400, code: 'BAD_URL', message: `${err.message}: percent-escapes in the path must be valid UTF-8` }
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return { status: 400, code: 'BAD_JSON', message: err.message }
  }
  const status = err.statusCode ?? 500
  if (status >= 400 && status < 500) return { status, code: CODE_OF_STATUS[status] ?? 'BAD_REQUEST', message: err.message }
  return { status: 500, code: 'INTERNAL', message: 'internal error; the node logged the details' }
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
        : [
            400,
            'Bad Request',
            'BAD_REQUEST',
            `malformed HTTP request (${err.code ?? err.message}): percent-encode characters outside ASCII in the URL, e.g. with ` +
              `curl --data-urlencode or encodeURIComponent`,
          ]
  if (err.code === 'ECONNRESET') return undefined
  const body = JSON.stringify({ error: { code, message } } satisfies ErrorBody)
  return (
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ` +
    `${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`
  )
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
      if (e.data === 'gap' && !allowedValues.includes('gap'))
        return new Error(
          `${field} "gap" is not accepted from clients: the node writes gap entries itself; use ` +
            `${CLIENT_KINDS.map((k) => `"${k}"`).join(' or ')}`,
        )
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
