import { createHash, timingSafeEqual } from 'node:crypto'
import { decodeCursor, encodeCursor, isNodeId, YlogError, type DurableLog, type EntryInput, type JsonValue, type NodeIdentity } from '@ylog/core'
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import type { SyncConnectionInfo } from '@ylog/sync'
import type { PeerInfo } from './cluster.js'
import type { Config } from './config.js'
import type { NodeMetrics } from './metrics.js'

export const BODY_LIMIT = 1024 * 1024
export const MAX_LIMIT = 1000
export const DEFAULT_LIMIT = 100

export interface ServerOptions {
  durable: DurableLog
  identity: NodeIdentity
  config: Pick<Config, 'writeToken'>
  metrics: NodeMetrics
  logger: FastifyBaseLogger
  /** What GET /api/nodes reports about the cluster; default: cluster "ylog", no peers, no connections. */
  cluster?: ClusterView
}

export interface ClusterView {
  name: string
  peers(): PeerInfo[]
  connections(): SyncConnectionInfo[]
}

const NO_CLUSTER: ClusterView = { name: 'ylog', peers: () => [], connections: () => [] }

const ZERO_HASH = '0'.repeat(64)

/** The body of every error response. */
export interface ErrorBody {
  error: { code: string; message: string }
}

interface PostBody {
  topic: string
  kind: 'transition' | 'event'
  data: JsonValue
  at?: number
}

const CLIENT_KINDS = ['transition', 'event'] as const

const postSchema = {
  type: 'object',
  required: ['topic', 'kind', 'data'],
  additionalProperties: false,
  properties: {
    // Topic rules live in @ylog/core (validateTopic), which words its errors better than a pattern could.
    topic: { type: 'string' },
    kind: { type: 'string', enum: CLIENT_KINDS },
    data: {},
    at: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
  },
} as const

// Query and path values stay strings here and are parsed by hand: with type
// coercion on, ajv would also coerce body fields (topic: 5 → "5").
const listSchema = {
  type: 'object',
  additionalProperties: false,
  properties: { after: { type: 'string' }, limit: { type: 'string' } },
} as const

const entrySchema = {
  type: 'object',
  properties: { node: { type: 'string' }, seq: { type: 'string' } },
} as const

/** The node's HTTP API. Listening is up to the caller. */
export function buildServer({ durable, identity, config, metrics, logger, cluster = NO_CLUSTER }: ServerOptions): FastifyInstance {
  const app = Fastify({
    loggerInstance: logger,
    bodyLimit: BODY_LIMIT,
    // One log line per request would dwarf the log itself under load; errors are logged below.
    logController: new LogController({ disableRequestLogging: true }),
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false, verbose: true } },
    schemaErrorFormatter: formatSchemaErrors,
    // Errors raised before routing (a malformed URL) would otherwise skip the error handler's format.
    frameworkErrors: (err, _request, reply) => {
      const { status, code, message } = classify(err)
      // The reply's generic type here is too narrow for a status code; it is an ordinary reply.
      void (reply as FastifyReply).code(status).send({ error: { code, message } } satisfies ErrorBody)
    },
  })
  let failed: YlogError | undefined
  let closing = false
  app.addHook('onClose', async () => {
    closing = true
  })
  app.addHook('onSend', async (_request, reply) => {
    reply.header('x-ylog-node', identity.id)
  })

  // JSON only: fastify would also take text/plain, and then complain it is not an object.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    const text = body as string
    if (text.trim() === '') return done(httpError(400, 'BAD_JSON', 'request body is empty; send a JSON object'), undefined)
    try {
      done(null, JSON.parse(text))
    } catch (err) {
      done(httpError(400, 'BAD_JSON', `request body is not valid JSON: ${(err as Error).message}`), undefined)
    }
  })

  app.setErrorHandler((err: FastifyError, request, reply) => {
    const { status, code, message } = classify(err)
    if (err instanceof YlogError && err.code === 'STORE_FAILED') failed = err
    if (status >= 500) request.log.error({ err, method: request.method, url: request.url }, 'request failed')
    else request.log.debug({ status, code, message, method: request.method, url: request.url }, 'request refused')
    return reply.code(status).send({ error: { code, message } } satisfies ErrorBody)
  })
  app.setNotFoundHandler((request, reply) => {
    return reply.code(404).send({ error: { code: 'NOT_FOUND', message: `no route ${request.method} ${request.url.split('?')[0]}; the API is /api/events, /api/events/:node/:seq, /api/heads, /api/nodes, /healthz, /readyz, /metrics` } } satisfies ErrorBody)
  })

  const requireToken = writeGuard(config.writeToken)

  app.post<{ Body: PostBody }>('/api/events', { schema: { body: postSchema }, onRequest: requireToken }, async (request, reply) => {
    const { topic, kind, data, at } = request.body
    // Core validates topic and data and signs; a throw here leaves the log untouched.
    const entry = await durable.append({ topic, kind, data, at } as EntryInput)
    metrics.appends.inc()
    return reply
      .code(201)
      .header('location', `/api/events/${entry.node}/${entry.seq}`)
      .send({ node: entry.node, seq: entry.seq, id: `${entry.node}:${entry.seq}`, hash: entry.hash })
  })

  app.get<{ Querystring: { after?: string; limit?: string } }>('/api/events', { schema: { querystring: listSchema } }, async (request) => {
    const limit = parseLimit(request.query.limit)
    const cursor = decodeCursor(request.query.after ?? '')
    const { entries, next } = durable.log.entriesAfter(cursor, limit)
    return { entries, next: encodeCursor(next) }
  })

  app.get<{ Params: { node: string; seq: string } }>('/api/events/:node/:seq', { schema: { params: entrySchema } }, async (request, reply) => {
    const { node, seq: seqText } = request.params
    if (!isNodeId(node)) throw httpError(400, 'BAD_ARGUMENT', `node ${quote(node)} is not a node id: use 64 lowercase hex digits`)
    const seq = /^[0-9]+$/.test(seqText) ? Number(seqText) : Number.NaN
    if (!Number.isSafeInteger(seq)) throw httpError(400, 'BAD_ARGUMENT', `seq ${quote(seqText)} is not a sequence number: use an integer 0 or more`)
    const entry = durable.log.get(node, seq)
    if (entry === undefined) {
      const length = durable.log.length(node)
      const held = length === 0 ? 'no entries from that node are held here' : `that node's entries held here are seq 0-${length - 1}`
      return reply.code(404).send({ error: { code: 'NOT_FOUND', message: `no entry ${node}:${seq}; ${held}` } } satisfies ErrorBody)
    }
    return entry
  })

  app.get('/api/heads', async () => {
    return { heads: [...durable.log.heads().values()], holes: Object.fromEntries(durable.log.holes()) }
  })

  app.get('/api/nodes', async () => {
    const heads = durable.log.heads()
    const holes = durable.log.holes()
    const nodes = [...new Set([...heads.keys(), ...holes.keys()])].sort().map((node) => {
      const head = heads.get(node)
      // A node known only from a hole (its entries are held back or announced by a peer) has none here yet.
      return {
        node,
        length: head?.length ?? 0,
        hash: head?.hash ?? ZERO_HASH,
        at: head?.at ?? null,
        forked: head?.forked ?? false,
        holes: holes.get(node) ?? [],
      }
    })
    return {
      self: identity.id,
      cluster: cluster.name,
      membership: durable.log.membership.describe(),
      nodes,
      peers: cluster.peers(),
      connections: cluster.connections(),
    }
  })

  app.get('/healthz', async () => ({ ok: true }))

  app.get('/readyz', async (_request, reply) => {
    // Replay has finished before the server is built; what remains is a failed store or shutdown.
    if (failed !== undefined) return reply.code(503).send({ ok: false, reason: `the store failed, writes are refused until restart: ${failed.message}` })
    if (closing) return reply.code(503).send({ ok: false, reason: 'shutting down' })
    return { ok: true, replaySeconds: durable.replaySeconds }
  })

  app.get('/metrics', async (_request, reply) => {
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics())
  })

  return app
}

/** An onRequest hook enforcing the write token, or a no-op when none is configured. */
function writeGuard(token: string | undefined): (request: FastifyRequest, reply: FastifyReply) => Promise<void> {
  if (token === undefined) return async () => {}
  // Comparing fixed-length digests keeps the comparison constant-time whatever the presented length.
  const expected = createHash('sha256').update(token).digest()
  return async (request, reply) => {
    const match = /^Bearer +(\S+) *$/i.exec(request.headers.authorization ?? '')
    const presented = createHash('sha256').update(match?.[1] ?? '').digest()
    if (match !== null && timingSafeEqual(presented, expected)) return
    const message = match === null ? 'writes need the header "Authorization: Bearer <write token>"' : 'the write token is wrong'
    await reply.code(401).header('www-authenticate', 'Bearer realm="ylog"').send({ error: { code: 'UNAUTHORIZED', message } } satisfies ErrorBody)
  }
}

function parseLimit(text: string | undefined): number {
  if (text === undefined) return DEFAULT_LIMIT
  const n = /^-?[0-9]+$/.test(text) ? Number(text) : Number.NaN
  if (!Number.isSafeInteger(n) || n < 1 || n > MAX_LIMIT) {
    const problem = Number.isNaN(n) ? 'is not an integer' : 'is out of range'
    throw httpError(400, 'BAD_ARGUMENT', `limit ${quote(text)} ${problem}: use an integer 1-${MAX_LIMIT} (default ${DEFAULT_LIMIT})`)
  }
  return n
}

/** An error carrying the status and code to answer with. */
function httpError(statusCode: number, code: string, message: string): FastifyError {
  return Object.assign(new Error(message), { statusCode, code, name: 'HttpError' }) as FastifyError
}

function classify(err: FastifyError): { status: number; code: string; message: string } {
  if (err instanceof YlogError) {
    if (err.code.startsWith('BAD_')) return { status: 400, code: err.code, message: err.message }
    if (err.code === 'ENTRY_TOO_LARGE') return { status: 413, code: err.code, message: err.message }
    if (err.code === 'STORE_FAILED' || err.code === 'CLOSED') return { status: 503, code: err.code, message: err.message }
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
  if (status >= 400 && status < 500) return { status, code: err.code ?? 'BAD_REQUEST', message: err.message }
  return { status: 500, code: 'INTERNAL', message: 'internal error; the node logged the details' }
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
function formatSchemaErrors(errors: readonly AjvError[], dataVar: string): Error {
  const e = errors[0]
  if (e === undefined) return new Error(`${dataVar} is invalid`)
  const where = dataVar === 'querystring' ? 'query' : dataVar
  const field = `${where}${e.instancePath.replaceAll('/', '.')}`
  const allowed = Object.keys(e.parentSchema?.properties ?? {}).join(', ')
  switch (e.keyword) {
    case 'required':
      return new Error(`${field} is missing the required field "${String(e.params.missingProperty)}"`)
    case 'additionalProperties':
      return new Error(`${field} has an unknown field "${String(e.params.additionalProperty)}"; allowed: ${allowed}`)
    case 'type':
      return new Error(`${field} must be ${article(String(e.params.type))}, got ${describe(e.data)}`)
    case 'enum':
      if (e.data === 'gap') return new Error(`${field} "gap" is not accepted from clients: the node writes gap entries itself; use ${CLIENT_KINDS.map((k) => `"${k}"`).join(' or ')}`)
      return new Error(`${field} must be one of ${CLIENT_KINDS.map((k) => `"${k}"`).join(', ')}, got ${describe(e.data)}`)
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

function quote(text: string): string {
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text)
}
