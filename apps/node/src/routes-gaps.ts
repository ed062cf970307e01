import { MAX_FIELD_LENGTH, YlogError, type DurableLog, type Entry, type EntryInput, type NodeTables } from '@ylog/core'
import type { FastifyInstance } from 'fastify'
import type { Guard } from './access.js'
import { errorResponses, IDEMPOTENCY_HEADER, TOPIC, WITH_BODY, WRITES, type Auth } from './api-schemas.js'
import { IdempotencyKeys } from './idempotency.js'
import { receiptSchema } from './routes-events.js'
import type { NodeMetrics } from './metrics.js'

interface GapBody {
  topic: string
  stream: string
  from: number
  count: number
}

/** 2^52: from + count - 1 stays a safe integer, so every body the schema allows makes a valid gap entry. */
const HALF_SAFE = 2 ** 52

const gapSchema = {
  type: 'object',
  required: ['topic', 'stream', 'from', 'count'],
  additionalProperties: false,
  properties: {
    topic: { ...TOPIC, description: 'the topic the skipped events would have had' },
    stream: {
      type: 'string',
      minLength: 1,
      maxLength: MAX_FIELD_LENGTH,
      description: 'what was skipped, e.g. the file a forwarder reads ("forward:/var/log/app.ndjson")',
      examples: ['forward:/var/log/app.ndjson'],
    },
    from: {
      type: 'integer',
      minimum: 0,
      maximum: HALF_SAFE,
      description: 'the first skipped position of the stream (a byte offset for `ylog forward`)',
    },
    count: {
      type: 'integer',
      minimum: 1,
      maximum: HALF_SAFE,
      description: 'how many positions were skipped from there: the gap entry covers from..from+count-1',
    },
  },
} as const

export interface GapRoutesOptions {
  durable: DurableLog
  tables: NodeTables
  metrics: NodeMetrics
  requireWrite: Guard
  auth: Auth
  idempotencyTtlMs: number
}

/**
 * `POST /api/gaps` {topic, stream, from, count}: a writer that had to skip events of its own source (a
 * forwarder whose line the node refused) records that here, and the node
 * signs it as a gap entry, the same kind it writes when its ingest queue
 * drops events: readers see the hole where the events would have been.
 * Clients still cannot write kind "gap" through the event routes, so a gap
 * entry always comes from a route that says what it means.
 */
export function gapRoutes(app: FastifyInstance, options: GapRoutesOptions): void {
  const { durable, tables, metrics, requireWrite, auth, idempotencyTtlMs } = options
  // Straight to the log, not through the ingest queue: a record of dropped events is never dropped itself.
  const write = (inputs: EntryInput[], idempotency?: { key: string; requestHash: Uint8Array }): Promise<Entry[]> =>
    durable.appendBatch(inputs, { idempotency })
  const keys = new IdempotencyKeys(durable, tables, { ttlMs: idempotencyTtlMs })
  app.post<{ Body: GapBody }>(
    '/api/gaps',
    {
      schema: {
        operationId: 'recordGap',
        summary: 'Record that count positions of a stream from "from" on were skipped before the log: the node signs a gap entry',
        body: gapSchema,
        headers: IDEMPOTENCY_HEADER,
        security: auth.security,
        response: {
          201: {
            description: 'the gap entry, committed',
            headers: {
              'idempotent-replayed': { type: 'string', enum: ['true'], description: 'an earlier request with this key wrote it' },
            },
            ...receiptSchema,
          },
          ...errorResponses([
            ...WITH_BODY,
            ...WRITES,
            'BAD_TOPIC',
            'BAD_DATA',
            'BAD_IDEMPOTENCY_KEY',
            'IDEMPOTENCY_CONFLICT',
            ...auth.codes,
          ]),
        },
      },
      onRequest: requireWrite,
    },
    async (request, reply) => {
      const { topic, stream, from, count } = request.body
      // Ranges are the handler's to check (see forValidation), in the words of the gap entry they would make.
      if (from > HALF_SAFE) throw new YlogError('BAD_DATA', `from ${from} is above 2^52 (${HALF_SAFE})`)
      if (count < 1 || count > HALF_SAFE) {
        throw new YlogError('BAD_DATA', `count ${count} is not 1-2^52: a gap covers one position at least`)
      }
      // A count rather than a last position: a range that runs backwards cannot be sent. @ylog/core checks the topic.
      const input: EntryInput = { topic, kind: 'gap', data: { stream, from, to: from + count - 1 } }
      const key = IdempotencyKeys.parseKey(request.headers['idempotency-key'])
      const hash = (): Uint8Array => IdempotencyKeys.requestHash('POST /api/gaps', request.body)
      const { entries, replayed } =
        key === undefined ? { entries: await write([input]), replayed: false } : await keys.once(key, hash(), (i) => write([input], i))
      const entry = entries[0] as Entry
      if (!replayed) metrics.appends.inc()
      if (replayed) reply.header('idempotent-replayed', 'true')
      return reply
        .code(201)
        .header('location', `/api/events/${entry.node}/${entry.seq}`)
        .send({ node: entry.node, seq: entry.seq, id: `${entry.node}:${entry.seq}`, hash: entry.hash, at: entry.at })
    },
  )
}
