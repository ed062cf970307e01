import AjvCompiler from '@fastify/ajv-compiler'
import swagger from '@fastify/swagger'
import { YlogError, type DurableLog, type Entry, type EntryInput, type NodeIdentity, type NodeTables } from '@ylog/core'
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply } from 'fastify'
import { bearerGuard } from './access.js'
import { authOf, forValidation } from './api-schemas.js'
import { DEFAULTS, type Config } from './config.js'
import { Consumers } from './consumers.js'
import type { GapCounter } from './gap-counter.js'
import { BODY_LIMIT, classify, clientErrorResponse, formatSchemaErrors, type ErrorBody } from './http-errors.js'
import type { NodeMetrics } from './metrics.js'
import { consoleRoutes } from './routes-console.js'
import { consumerRoutes } from './routes-consumers.js'
import { contextRoutes } from './routes-context.js'
import { eventRoutes } from './routes-events.js'
import { gapRoutes } from './routes-gaps.js'
import { streamRoutes } from './routes-stream.js'
import { topicRoutes } from './routes-topics.js'
import { transferRoutes } from './routes-transfer.js'
import { allowedMethods, drainBody } from './unread-body.js'
import { NO_CLUSTER, statusRoutes, type ClusterView } from './routes-status.js'

export { BODY_LIMIT, type ErrorBody } from './http-errors.js'
export { MAX_LIMIT, DEFAULT_LIMIT, MAX_BATCH } from './routes-events.js'
export type { ClusterView } from './routes-status.js'

export interface ServerOptions {
  durable: DurableLog
  /** The node's idempotency keys and consumer positions (its store). */
  tables: NodeTables
  identity: NodeIdentity
  config: Partial<Pick<Config, 'writeToken' | 'readToken' | 'idempotencyTtl'>>
  metrics: NodeMetrics
  logger: FastifyBaseLogger
  /** What GET /api/nodes reports about the cluster; default: cluster "ylog", no peers, no connections. */
  cluster?: ClusterView
  /** Gap entry counts for /api/heads and /api/nodes; none without it. */
  gaps?: GapCounter
  /** The log lives in memory only (`--store memory`): /readyz says so. */
  volatile?: boolean
  /** The ingest path appends go through (default: straight to the log). */
  write?: (inputs: EntryInput[], idempotency?: { key: string; requestHash: Uint8Array }) => Promise<Entry[]>
}

const ROUTES =
  '/api/events, /api/events/batch, /api/events/stream, /api/events/:node/:seq, /api/heads, /api/nodes, /api/topics, ' +
  '/api/consumers/:name, /healthz, /readyz, /metrics, /openapi.json'

/** The node's HTTP API. Listening is up to the caller. */
export function buildServer({
  durable,
  tables,
  identity,
  config,
  metrics,
  logger,
  cluster = NO_CLUSTER,
  gaps,
  volatile,
  write,
}: ServerOptions): FastifyInstance {
  const app = Fastify({
    loggerInstance: logger,
    bodyLimit: BODY_LIMIT,
    // One log line per request would dwarf the log itself under load; errors are logged below.
    logController: new LogController({ disableRequestLogging: true }),
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false, verbose: true } },
    // Route schemas document every constraint; fastify's ajv checks the part of them the handlers do not (see forValidation).
    schemaController: { compilersFactory: { buildValidator: documentedValidator() } },
    schemaErrorFormatter: formatSchemaErrors,
    clientErrorHandler: (err, socket) => {
      const response = clientErrorResponse(err)
      if (response !== undefined && socket.writable) socket.end(response)
      else socket.destroy()
    },
    // Errors raised before routing (a malformed URL) would otherwise skip the error handler's format.
    frameworkErrors: (err, _request, reply) => {
      const { status, code, message } = classify(err)
      // The reply's generic type here is too narrow for a status code; it is an ordinary reply.
      void (reply as FastifyReply).code(status).send({ error: { code, message } } satisfies ErrorBody)
    },
  })
  let closing = false
  app.addHook('onClose', async () => {
    closing = true
  })
  const routes = allowedMethods(app)
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-ylog-node', identity.id)
    // A refusal sent before the body was read (401, 413, 415, 404): read the rest first, or a client still
    // sending it sees EPIPE instead of the answer and takes it for a network error. Past the bound, close.
    if (reply.statusCode >= 400 && !(await drainBody(request.raw))) reply.header('connection', 'close')
  })

  // JSON only: fastify would also take text/plain, and then complain it is not an object.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    const text = body as string
    if (text.trim() === '') return done(new YlogError('BAD_JSON', 'request body is empty; send a JSON object'), undefined)
    try {
      done(null, JSON.parse(text))
    } catch (err) {
      done(new YlogError('BAD_JSON', `request body is not valid JSON: ${(err as Error).message}`), undefined)
    }
  })

  app.setErrorHandler((err: FastifyError, request, reply) => {
    const { status, code, message } = classify(err)
    if (status >= 500) request.log.error({ err, method: request.method, url: request.url }, 'request failed')
    else request.log.debug({ status, code, message, method: request.method, url: request.url }, 'request refused')
    return reply.code(status).send({ error: { code, message } } satisfies ErrorBody)
  })
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? ''
    const allow = routes.allowed(path)
    if (allow.length > 0) {
      const message = `${path} does not take ${request.method}; it takes ${allow.join(', ')}`
      return reply
        .code(405)
        .header('allow', allow.join(', '))
        .send({ error: { code: 'METHOD_NOT_ALLOWED', message } } satisfies ErrorBody)
    }
    return reply.code(404).send({
      error: {
        code: 'NOT_FOUND',
        message: `no route ${request.method} ${request.url.split('?')[0]}; the API is ${ROUTES} (described in /openapi.json)`,
      },
    } satisfies ErrorBody)
  })

  const requireWrite = bearerGuard([config.writeToken], 'writes')
  const requireRead = bearerGuard(config.readToken === undefined ? [] : [config.readToken, config.writeToken], 'reads')
  const auth = { write: authOf(config.writeToken, 'writes'), read: authOf(config.readToken, 'reads') }
  const append =
    write ??
    ((inputs, idempotency) =>
      inputs.length === 1 && idempotency === undefined
        ? durable.append(inputs[0] as EntryInput).then((e) => [e])
        : durable.appendBatch(inputs, { idempotency }))

  void app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'ylog node',
        version: '1',
        description: 'A replicated, signed, grow-only event log. Errors answer {"error": {"code", "message"}}.',
      },
      components: {
        securitySchemes: {
          bearer: {
            type: 'http',
            scheme: 'bearer',
            description: 'the write token (writes) or the read token (reads), when the node has one',
          },
        },
      },
    },
    transformObject: (document) =>
      'openapiObject' in document ? withLinks(document.openapiObject as OpenApiDocument) : document.swaggerObject,
  })
  // Routes go in a plugin registered after swagger, so it sees every one of them.
  void app.register(async (api) => {
    eventRoutes(api, {
      durable,
      tables,
      metrics,
      write: append,
      requireWrite,
      requireRead,
      auth,
      idempotencyTtlMs: (config.idempotencyTtl ?? DEFAULTS.idempotencyTtl) * 1000,
    })
    gapRoutes(api, {
      durable,
      tables,
      metrics,
      requireWrite,
      auth: auth.write,
      idempotencyTtlMs: (config.idempotencyTtl ?? DEFAULTS.idempotencyTtl) * 1e3,
    })
    streamRoutes(api, { durable, requireRead, auth: auth.read, onClient: (delta) => metrics.streams.inc(delta) })
    topicRoutes(api, { durable, requireRead, auth: auth.read })
    contextRoutes(api, { durable, requireRead, auth: auth.read })
    consoleRoutes(api)
    transferRoutes(api, { durable, self: identity.id, requireRead, requireWrite })
    consumerRoutes(api, new Consumers(durable, tables), { requireRead, requireWrite, auth })
    statusRoutes(api, {
      durable,
      identity,
      metrics,
      cluster,
      gaps,
      volatile,
      requireRead,
      auth: auth.read,
      // A failed store is read from the log itself (durable.health), which knows when it recovers.
      notReady: () => (closing ? 'shutting down' : undefined),
    })
    api.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger())
  })

  return app
}

/** fastify's own ajv compiler, given the schema to validate with rather than the documented one. */
function documentedValidator(): AjvCompiler.BuildCompilerFromPool {
  const base = AjvCompiler()
  return (externalSchemas, options) => {
    const compile = base(externalSchemas, options)
    return (route) => compile({ ...route, schema: forValidation(route.schema as Record<string, unknown>, route.httpPart) })
  }
}

interface OpenApiDocument {
  paths?: Record<string, Record<string, { operationId?: string; responses?: Record<string, { links?: Record<string, unknown> }> }>>
}

/** @fastify/swagger has no place for links in a route schema: an append's receipt names the entry that getEvent reads. */
function withLinks(doc: OpenApiDocument): OpenApiDocument {
  const created = doc.paths?.['/api/events']?.post?.responses?.['201']
  if (created !== undefined) {
    created.links = {
      getEvent: {
        operationId: 'getEvent',
        parameters: { node: '$response.body#/node', seq: '$response.body#/seq' },
        description: 'the entry just appended',
      },
    }
  }
  return doc
}
