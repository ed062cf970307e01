import {
  decodeCursor,
  encodeCursor,
  isNodeId,
  MAX_FIELD_LENGTH,
  PLAUSIBLE_MIN_TIME_MS,
  readPage,
  validateTopic,
  YlogError,
  type DurableLog,
  type Entry,
  type EntryInput,
  type EntryKind,
  type JsonValue,
  type NodeTables,
} from '@ylog/core'
import type { FastifyInstance } from 'fastify'
import type { Guard } from './access.js'
import {
  CURSOR,
  ENTRY,
  errorResponses,
  IDEMPOTENCY_HEADER,
  KIND,
  MILLIS,
  NODE_ID,
  TOPIC,
  WITH_BODY,
  WRITES,
  type Auth,
} from './api-schemas.js'
import { CLIENT_KINDS, quote, type ErrorBody } from './http-errors.js'
import { IdempotencyKeys } from './idempotency.js'
import type { NodeMetrics } from './metrics.js'
import { decodePosition, readBackwards } from './read-backwards.js'

export const MAX_LIMIT = 1000
export const DEFAULT_LIMIT = 100
export const MAX_BATCH = 1000

interface PostBody {
  topic: string
  kind: 'transition' | 'event'
  data: JsonValue
  at?: number
  time?: number
}

const field = { type: 'string', minLength: 1, maxLength: MAX_FIELD_LENGTH } as const
const transitionData = {
  type: 'object',
  additionalProperties: false,
  required: ['subject', 'from', 'to', 'event'],
  properties: { subject: field, from: field, to: field, event: field },
} as const
/** Times before 1973 are refused (BAD_TIME): they are seconds sent as milliseconds. Later than the clock plus the skew, too. */
const givenTime = { type: 'integer', minimum: PLAUSIBLE_MIN_TIME_MS, maximum: Number.MAX_SAFE_INTEGER, examples: [1763900000000] } as const

export const postSchema = {
  type: 'object',
  required: ['topic', 'kind', 'data'],
  additionalProperties: false,
  properties: {
    // Patterns and lengths are checked by @ylog/core (validateTopic), which words its errors better (see forValidation).
    topic: { ...TOPIC, description: 'what the entry is about, e.g. "pipeline.build"' },
    kind: { type: 'string', enum: CLIENT_KINDS, description: '"transition" data is {subject, from, to, event}; "event" data is any JSON' },
    data: { description: 'JSON (integers within ±(2^53-1)); an entry encodes to at most 64 KiB' },
    time: {
      ...givenTime,
      description:
        'when the event happened, ms since the epoch; stored as given (it may be older than earlier entries), at most the max ' +
        'clock skew ahead',
    },
    at: {
      ...givenTime,
      description:
        "append time to ask for, ms since the epoch (default now); raised to this node's last at, at most the max clock skew ahead",
    },
  },
  if: { properties: { kind: { const: 'transition' } } },
  then: { properties: { data: transitionData } },
} as const

const batchSchema = { type: 'array', minItems: 1, maxItems: MAX_BATCH, items: postSchema } as const

export const receiptSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['node', 'seq', 'id', 'hash', 'at'],
  properties: {
    node: NODE_ID,
    seq: { type: 'integer', minimum: 0 },
    id: { type: 'string', description: '<node>:<seq>' },
    hash: { type: 'string' },
    at: { type: 'integer', description: 'the append time stored' },
    time: { type: 'integer', description: 'the event time stored, when one was given' },
  },
} as const

const replayed = {
  'idempotent-replayed': {
    type: 'string',
    enum: ['true'],
    description: 'the answer of an earlier request with this Idempotency-Key; nothing was written',
  },
}

const writeErrors = [
  ...WITH_BODY,
  ...WRITES,
  'BAD_TOPIC',
  'BAD_DATA',
  'BAD_TIME',
  'ENTRY_TOO_LARGE',
  'BAD_IDEMPOTENCY_KEY',
  'IDEMPOTENCY_CONFLICT',
] as const
const readErrors = ['BAD_ARGUMENT', 'BAD_CURSOR', 'BAD_TOPIC'] as const

const pageSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['entries', 'next'],
  properties: {
    entries: { type: 'array', items: ENTRY },
    next: { ...CURSOR, description: 'pass as after to continue with what follows' },
    prev: { type: ['string', 'null'], description: 'with last or before: pass as before for the page before; null at the start' },
  },
} as const

// Query and path values stay strings and are parsed by hand: with type
// coercion on, ajv would also coerce body fields (topic: 5 → "5").
const listSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    after: { ...CURSOR, description: 'a cursor ("next" of an earlier page); default: the start' },
    since: { ...MILLIS, description: 'only entries with at >= since (ms since the epoch)' },
    topic: TOPIC,
    kind: KIND,
    limit: { type: 'integer', minimum: 1, maximum: MAX_LIMIT, default: DEFAULT_LIMIT },
    last: {
      type: 'integer',
      minimum: 1,
      maximum: MAX_LIMIT,
      description:
        'the newest n entries by (at, node, seq), oldest first; "next" continues live, "prev" pages back. Not with after, since or before',
    },
    before: {
      type: 'string',
      pattern: '^p1\\.[0-9]{1,15}\\.[0-9a-f]{64}\\.[0-9]{1,15}$',
      description: 'a "prev" position: the limit entries before it, oldest first, and the "prev" before them. Not with after or since',
    },
  },
} as const

/** What OpenAPI cannot say about listSchema: at most one of these groups per request (400 BAD_ARGUMENT otherwise). */
const listExclusive = [['last'], ['before'], ['after', 'since']]

const entryParams = {
  type: 'object',
  required: ['node', 'seq'],
  properties: { node: NODE_ID, seq: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER } },
} as const

/** What a write answers per entry: where it is, and the times stored (at, and the event's time when it was given). */
function receipt(entry: Entry): { node: string; seq: number; id: string; hash: string; at: number; time?: number } {
  return {
    node: entry.node,
    seq: entry.seq,
    id: `${entry.node}:${entry.seq}`,
    hash: entry.hash,
    at: entry.at,
    ...(entry.time === undefined ? {} : { time: entry.time }),
  }
}

function toInput({ topic, kind, data, at, time }: PostBody): EntryInput {
  return { topic, kind, data, ...(at === undefined ? {} : { at }), ...(time === undefined ? {} : { time }) } as EntryInput
}

const PRUNE_EVERY_MS = 60 * 60 * 1000

export interface EventRoutesOptions {
  durable: DurableLog
  /** Where idempotency keys are looked up. */
  tables: NodeTables
  metrics: NodeMetrics
  /** Appends one or many entries through the node's ingest path. */
  write: (inputs: EntryInput[], idempotency?: { key: string; requestHash: Uint8Array }) => Promise<Entry[]>
  requireWrite: Guard
  requireRead: Guard
  /** What the OpenAPI document says about the guards. */
  auth: { write: Auth; read: Auth }
  /** How long an Idempotency-Key is remembered, counted from its first entry's `at`. */
  idempotencyTtlMs: number
}

export function eventRoutes(
  app: FastifyInstance,
  { durable, tables, metrics, write, requireWrite, requireRead, auth, idempotencyTtlMs }: EventRoutesOptions,
): void {
  const keys = new IdempotencyKeys(durable, tables, { ttlMs: idempotencyTtlMs })
  // Expired keys are dropped at start and then hourly, so the table holds about one TTL's worth of keys.
  const prune = (): void => {
    keys.pruneExpired().then(
      (pruned) => {
        if (pruned > 0) app.log.info({ pruned }, 'forgot expired idempotency keys')
      },
      (err: unknown) => {
        if ((err as { code?: string }).code !== 'CLOSED') app.log.warn({ err }, 'cannot prune expired idempotency keys')
      },
    )
  }
  prune()
  const pruning = setInterval(prune, PRUNE_EVERY_MS)
  pruning.unref()
  app.addHook('onClose', async () => clearInterval(pruning))

  /** Writes with or without an Idempotency-Key; a replay says so in a header. */
  const idempotentWrite = async (
    route: string,
    inputs: EntryInput[],
    header: string | string[] | undefined,
    body: unknown,
  ): Promise<{ entries: Entry[]; replayed: boolean }> => {
    const key = IdempotencyKeys.parseKey(header)
    if (key === undefined) return { entries: await write(inputs), replayed: false }
    return keys.once(key, IdempotencyKeys.requestHash(route, body), (idempotency) => write(inputs, idempotency))
  }

  app.post<{ Body: PostBody }>(
    '/api/events',
    {
      schema: {
        operationId: 'appendEvent',
        summary: 'Append one entry; answers after it is committed',
        body: postSchema,
        headers: IDEMPOTENCY_HEADER,
        security: auth.write.security,
        response: {
          201: {
            description: 'committed',
            headers: { location: { type: 'string', description: '/api/events/<node>/<seq>' }, ...replayed },
            ...receiptSchema,
          },
          ...errorResponses([...writeErrors, 'INGEST_FULL', ...auth.write.codes]),
        },
      },
      onRequest: requireWrite,
    },
    async (request, reply) => {
      const { entries, replayed } = await idempotentWrite(
        'POST /api/events',
        [toInput(request.body)],
        request.headers['idempotency-key'],
        request.body,
      )
      const entry = entries[0] as Entry
      if (!replayed) metrics.appends.inc()
      if (replayed) reply.header('idempotent-replayed', 'true')
      return reply.code(201).header('location', `/api/events/${entry.node}/${entry.seq}`).send(receipt(entry))
    },
  )

  app.post<{ Body: PostBody[] }>(
    '/api/events/batch',
    {
      schema: {
        operationId: 'appendBatch',
        summary: `Append up to ${MAX_BATCH} entries in one commit, all or none`,
        body: batchSchema,
        headers: IDEMPOTENCY_HEADER,
        security: auth.write.security,
        response: {
          201: {
            description: 'all committed, in order, with contiguous seqs',
            headers: replayed,
            type: 'object',
            additionalProperties: false,
            required: ['entries'],
            properties: { entries: { type: 'array', items: receiptSchema } },
          },
          ...errorResponses([...writeErrors, ...auth.write.codes]),
        },
      },
      onRequest: requireWrite,
    },
    async (request, reply) => {
      const inputs = request.body.map(toInput)
      const { entries, replayed } = await idempotentWrite(
        'POST /api/events/batch',
        inputs,
        request.headers['idempotency-key'],
        request.body,
      )
      if (!replayed) metrics.appends.inc(entries.length)
      if (replayed) reply.header('idempotent-replayed', 'true')
      return reply.code(201).send({ entries: entries.map(receipt) })
    },
  )

  app.get<{ Querystring: Record<'after' | 'since' | 'topic' | 'kind' | 'limit' | 'last' | 'before', string | undefined> }>(
    '/api/events',
    {
      // An OpenAPI extension (fastify's schema type does not know it; @fastify/swagger copies x- keys to the operation).
      schema: {
        ...{ 'x-mutually-exclusive': listExclusive },
        operationId: 'listEvents',
        summary: 'Committed entries in (node, seq) order, a page at a time; or the newest (last) and pages back (before)',
        querystring: listSchema,
        security: auth.read.security,
        response: { 200: { description: 'a page', ...pageSchema }, ...errorResponses([...readErrors, ...auth.read.codes]) },
      },
      onRequest: requireRead,
    },
    async (request) => {
      const { after, since, topic, kind, last, before } = request.query
      if (topic !== undefined) validateTopic(topic)
      // Checked even where last makes it unused: a request the document calls invalid is refused, whatever else it says.
      const limit =
        request.query.limit === undefined
          ? undefined
          : parseInteger('limit', request.query.limit, 1, MAX_LIMIT, `an integer 1-${MAX_LIMIT} (default ${DEFAULT_LIMIT})`)
      if (last !== undefined || before !== undefined) {
        const clash = [
          last !== undefined && before !== undefined ? 'before' : undefined,
          after === undefined ? undefined : 'after',
          since === undefined ? undefined : 'since',
        ].find((p) => p !== undefined)
        if (clash !== undefined)
          throw new YlogError(
            'BAD_ARGUMENT',
            `${last !== undefined ? 'last' : 'before'} reads backwards from the end and cannot be combined with ${clash}`,
          )
        const count = last !== undefined ? parseInteger('last', last, 1, MAX_LIMIT, `an integer 1-${MAX_LIMIT}`) : (limit ?? DEFAULT_LIMIT)
        return readBackwards(durable, {
          before: before === undefined ? undefined : decodePosition(before),
          topic,
          kind: kind as EntryKind | undefined,
          limit: count,
        })
      }
      const page = await readPage(durable, {
        after: decodeCursor(after ?? ''),
        since: since === undefined ? undefined : parseInteger('since', since, 0, Number.MAX_SAFE_INTEGER, 'a time in ms since the epoch'),
        topic,
        kind: kind as EntryKind | undefined,
        limit: limit ?? DEFAULT_LIMIT,
      })
      return { entries: page.entries, next: encodeCursor(page.next) }
    },
  )

  app.get<{ Params: { node: string; seq: string } }>(
    '/api/events/:node/:seq',
    {
      schema: {
        operationId: 'getEvent',
        summary: 'One entry by node and seq',
        params: entryParams,
        security: auth.read.security,
        response: { 200: { description: 'the entry', ...ENTRY }, ...errorResponses(['BAD_ARGUMENT', 'NOT_FOUND', ...auth.read.codes]) },
      },
      onRequest: requireRead,
    },
    async (request, reply) => {
      const { node, seq: seqText } = request.params
      if (!isNodeId(node)) throw new YlogError('BAD_ARGUMENT', `node ${quote(node)} is not a node id: use 64 lowercase hex digits`)
      const seq = parseInteger('seq', seqText, 0, Number.MAX_SAFE_INTEGER, 'a sequence number: an integer 0 or more')
      const entry = durable.get(node, seq)
      if (entry === undefined) {
        const length = durable.committedLength(node)
        const held = length === 0 ? 'no entries from that node are held here' : `that node's entries held here are seq 0-${length - 1}`
        return reply.code(404).send({ error: { code: 'NOT_FOUND', message: `no entry ${node}:${seq}; ${held}` } } satisfies ErrorBody)
      }
      return entry
    },
  )
}

export function parseInteger(name: string, text: string, min: number, max: number, what: string): number {
  const n = /^-?[0-9]{1,20}$/.test(text) ? Number(text) : Number.NaN
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    const problem = Number.isNaN(n) ? 'is not an integer' : 'is out of range'
    throw new YlogError('BAD_ARGUMENT', `${name} ${quote(text)} ${problem}: use ${what}`)
  }
  return n
}
