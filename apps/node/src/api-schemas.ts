// JSON schemas the routes share, written for the OpenAPI document: they say
// every constraint a value must meet. See `forValidation` for which of them
// fastify checks and which the handlers check with their own wording.
import { encodeCursor, ENTRY_KINDS, MAX_TOPIC_LENGTH, START, TOPIC_PATTERN, type YlogErrorCode } from '@ylog/core'
import { HTTP_STATUS } from './http-errors.js'

export const NODE_ID = {
  type: 'string',
  pattern: '^[0-9a-f]{64}$',
  description: "a node's id: its Ed25519 public key, 64 lowercase hex digits",
} as const

export const TOPIC = {
  type: 'string',
  minLength: 1,
  maxLength: MAX_TOPIC_LENGTH,
  pattern: TOPIC_PATTERN.source,
  examples: ['pipeline.build'],
} as const

/** A cursor is opaque: only one the log returned decodes. The start of the log is the example a client can always send. */
export const CURSOR = {
  type: 'string',
  pattern: '^c1\\.[A-Za-z0-9_-]+$',
  maxLength: 1 << 20,
  description: 'a cursor: the "next" of a page or the id of a stream event',
  examples: [encodeCursor(START)],
} as const

export const KIND = { type: 'string', enum: ENTRY_KINDS } as const

/** The Idempotency-Key header of the routes that write. */
export const IDEMPOTENCY_HEADER = {
  type: 'object',
  properties: {
    'idempotency-key': {
      type: 'string',
      pattern: '^[!-~]{1,255}$',
      description: 'retrying with the same key and body returns the first answer and writes nothing again',
    },
  },
} as const

/** Milliseconds since the epoch, as a query or path value. */
export const MILLIS = { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER } as const

/**
 * An entry as stored and signed. Open (additionalProperties), so a field a later entry version adds is never dropped from a
 * signed entry.
 */
export const ENTRY = {
  type: 'object',
  additionalProperties: true,
  required: ['node', 'seq', 'prev', 'at', 'topic', 'kind', 'data', 'sig', 'hash'],
  properties: {
    node: NODE_ID,
    seq: { type: 'integer', minimum: 0 },
    prev: { type: 'string', description: "hex hash of the node's previous entry; 64 zeros at seq 0" },
    at: { type: 'integer', description: 'when the node appended it, ms since the epoch' },
    time: { type: 'integer', description: 'when the event happened, as its producer said' },
    topic: { type: 'string' },
    kind: KIND,
    data: { description: 'any JSON for events; {subject, from, to, event} for transitions; {stream, from, to} for gaps' },
    sig: { type: 'string' },
    hash: { type: 'string' },
  },
} as const

/** The body of every error answer, its code one of `codes`. */
export function errorBody(codes: readonly YlogErrorCode[]) {
  return {
    type: 'object',
    additionalProperties: false,
    required: ['error'],
    properties: {
      error: {
        type: 'object',
        additionalProperties: false,
        required: ['code', 'message'],
        properties: {
          code: { type: 'string', enum: [...codes] },
          message: { type: 'string', description: 'what was wrong and what is allowed' },
        },
      },
    },
  } as const
}

/** Codes any route can answer: a malformed path or request line, headers too large or too slow. */
export const ANY_ROUTE: readonly YlogErrorCode[] = ['BAD_REQUEST', 'BAD_URL', 'HEADERS_TOO_LARGE', 'REQUEST_TIMEOUT']
/** Codes of a route that reads a JSON body. */
export const WITH_BODY: readonly YlogErrorCode[] = ['BAD_JSON', 'BODY_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE']
/** Codes of a route that writes to the log. */
export const WRITES: readonly YlogErrorCode[] = ['STORE_FAILED', 'STORE_FULL', 'STORE_IO', 'CLOSED', 'SIGNER_FAILED']

export type ResponseSchemas = Record<string, unknown>

/** Error responses for `codes`, grouped by their status in HTTP_STATUS, so the document and the answers use one table. */
export function errorResponses(codes: readonly YlogErrorCode[]): ResponseSchemas {
  const byStatus = new Map<number, YlogErrorCode[]>()
  for (const code of new Set([...ANY_ROUTE, ...codes])) byStatus.set(HTTP_STATUS[code], [...(byStatus.get(HTTP_STATUS[code]) ?? []), code])
  const responses: ResponseSchemas = {}
  for (const [status, group] of [...byStatus].sort(([a], [b]) => a - b)) {
    responses[status] = { description: group.join(', '), ...errorBody(group) }
  }
  return responses
}

type Schema = Readonly<Record<string, unknown>>

/** Keywords the handlers check themselves, with a message naming the field, the value and what is allowed (and their own codes). */
const HANDLER_CHECKED = new Set(['pattern', 'minLength', 'maxLength', 'minimum', 'maximum', 'if', 'then', 'else', 'examples'])

/**
 * The schema fastify validates with, from the documented one. Query, path
 * and header values arrive as strings and are parsed by the handlers (type
 * coercion would also coerce bodies, and would take "0x10" for 16), so each
 * becomes a string schema keeping only its enum. In bodies, types, required
 * and unknown fields stay with ajv; patterns, lengths and ranges are left to
 * the handlers and @ylog/core, which word their errors better and answer
 * BAD_TOPIC, BAD_TIME, BAD_CURSOR rather than a generic BAD_REQUEST.
 */
export function forValidation(schema: Schema, httpPart: string | undefined): Schema {
  if (httpPart === 'querystring' || httpPart === 'params' || httpPart === 'headers') {
    const properties = (schema.properties ?? {}) as Record<string, Schema>
    const strings = Object.fromEntries(
      Object.entries(properties).map(([name, property]) => [
        name,
        property.type === 'string' && property.enum !== undefined ? { type: 'string', enum: property.enum } : { type: 'string' },
      ]),
    )
    return { ...schema, properties: strings }
  }
  return strip(schema) as Schema
}

function strip(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(strip)
  if (value === null || typeof value !== 'object') return value
  return Object.fromEntries(
    Object.entries(value)
      .filter(([key]) => !HANDLER_CHECKED.has(key))
      .map(([key, v]) => [
        key,
        key === 'enum' || key === 'const' ? v : key === 'properties' ? stripEach(v as Record<string, unknown>) : strip(v),
      ]),
  )
}

/** The schemas of named fields: the names are data, only the schemas are stripped. */
function stripEach(properties: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(properties).map(([name, schema]) => [name, strip(schema)]))
}

/** How a route is guarded, for its OpenAPI operation: the security requirement and the 401 it can answer. */
export interface Auth {
  security?: Array<Record<string, string[]>>
  codes: readonly YlogErrorCode[]
}

/** A route behind `token`: writes always name the bearer scheme (optional while no token is set), reads only when one is. */
export function authOf(token: string | undefined, what: 'writes' | 'reads'): Auth {
  if (token !== undefined) return { security: [{ bearer: [] }], codes: ['UNAUTHORIZED'] }
  return what === 'writes' ? { security: [{}, { bearer: [] }], codes: [] } : { codes: [] }
}

export const OPEN: Auth = { codes: [] }
