import {
  decodeCursor,
  encodeCursor,
  subscribe,
  validateTopic,
  YlogError,
  type DurableLog,
  type EntryKind,
  type SubscriptionItem,
} from '@ylog/core'
import type { FastifyInstance } from 'fastify'
import type { Guard } from './access.js'
import { CURSOR, errorResponses, KIND, TOPIC, type Auth } from './api-schemas.js'

/** A comment line this often keeps proxies and load balancers from closing an idle stream. */
const HEARTBEAT_MS = 15_000

const MAX_BUFFER = 100_000

const streamQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    after: {
      type: 'string',
      pattern: `^(now|${CURSOR.pattern.slice(1, -1)})$`,
      maxLength: CURSOR.maxLength,
      examples: ['now', ...CURSOR.examples],
      description: 'a cursor to start after, or "now" for only entries committed from now on; the Last-Event-ID header, when present, wins',
    },
    topic: TOPIC,
    kind: KIND,
    buffer: {
      type: 'integer',
      minimum: 1,
      maximum: MAX_BUFFER,
      default: 1024,
      description: 'entries held for this client while it reads slowly; beyond it they are dropped and announced by a gap event',
    },
    onLag: {
      type: 'string',
      enum: ['gap', 'close'],
      description:
        'when this client falls behind its buffer: a gap event and go on (default), or an error event (LAGGED) and the end of the stream',
    },
  },
} as const

const lastEventId = {
  type: 'object',
  properties: {
    'last-event-id': {
      ...CURSOR,
      description: 'the id of the last event processed: the stream resumes after it (EventSource sends it when it reconnects)',
    },
  },
} as const

export interface StreamRoutesOptions {
  durable: DurableLog
  requireRead: Guard
  auth: Auth
  onClient?: (delta: 1 | -1) => void
}

/**
 * GET /api/events/stream: Server-Sent Events. History from the cursor, then
 * live committed entries. Each event's id is the cursor just after it, so a
 * client that reconnects with Last-Event-ID resumes exactly. A client that
 * reads too slowly gets `event: gap` with the node and seq range it missed
 * (re-read them with GET /api/events) instead of an ever-growing buffer.
 */
export function streamRoutes(app: FastifyInstance, { durable, requireRead, auth, onClient }: StreamRoutesOptions): void {
  // Streams never end by themselves; shutdown ends them, or closing the server would wait for them forever.
  const open = new Map<AbortController, Promise<void>>()
  app.addHook('preClose', async () => {
    for (const controller of open.keys()) controller.abort()
    // Each ends its response before the server closes: one still writing would keep its connection (and close()) alive.
    await Promise.all(open.values())
  })

  app.get<{ Querystring: { after?: string; topic?: string; kind?: string; buffer?: string; onLag?: 'gap' | 'close' } }>(
    '/api/events/stream',
    {
      schema: {
        operationId: 'streamEvents',
        summary: 'Server-Sent Events: entries as they commit; event ids are cursors (Last-Event-ID resumes)',
        querystring: streamQuery,
        headers: lastEventId,
        security: auth.security,
        response: {
          200: {
            description:
              'events "entry" (data: an entry), "gap" (entries dropped for this slow client) and, with onLag=close, "error" ' +
              '(LAGGED) before the end',
            content: { 'text/event-stream': { schema: { type: 'string' } } },
          },
          ...errorResponses(['BAD_ARGUMENT', 'BAD_CURSOR', 'BAD_TOPIC', ...auth.codes]),
        },
      },
      onRequest: requireRead,
    },
    async (request, reply) => {
      const { topic, kind, buffer, onLag = 'gap' } = request.query
      // Validated before the stream starts, so mistakes still get a 400 with a JSON body.
      const lastEventId = request.headers['last-event-id']
      const queried = request.query.after
      // A malformed after is refused even when Last-Event-ID overrides it: the document calls the request invalid.
      if (queried !== undefined && queried !== 'now') decodeCursor(queried)
      const start = typeof lastEventId === 'string' && lastEventId !== '' ? lastEventId : (queried ?? '')
      // "now" becomes the cursor of what is committed now, which the opening comment names: a client that loses
      // the connection before its first event resumes from there instead of from a later "now".
      const after = start === 'now' ? new Map(durable.nodes().map((node) => [node, durable.committedLength(node)])) : decodeCursor(start)
      if (topic !== undefined) validateTopic(topic)
      const bufferSize = buffer === undefined ? undefined : parseBuffer(buffer)
      const abort = new AbortController()
      const subscription = subscribe(durable, {
        after,
        topic,
        kinds: kind === undefined ? undefined : [kind as EntryKind],
        bufferSize,
        signal: abort.signal,
      })
      let ended: () => void = () => {}
      open.set(abort, new Promise<void>((resolve) => (ended = resolve)))

      reply.hijack()
      const res = reply.raw
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        // The stream is the whole life of this connection; when it ends, so does the connection.
        connection: 'close',
        'x-accel-buffering': 'no',
        'x-ylog-node': durable.identity?.id ?? '',
      })
      res.write(`: ylog stream after=${encodeCursor(after)}\n\n`)
      onClient?.(1)
      const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), HEARTBEAT_MS)
      const closed = new Promise<void>((resolve) => res.once('close', () => resolve()))
      void closed.then(() => abort.abort())
      try {
        for await (const item of subscription) {
          if (item.kind === 'gap' && onLag === 'close') {
            const message =
              `this stream fell behind its buffer and entries ${item.node}:${item.from}-${item.to} were dropped ` +
              `for it; resume from the last event id`
            res.write(`event: error\ndata: ${JSON.stringify({ error: { code: 'LAGGED', message } })}\n\n`)
            break
          }
          // A full socket buffer holds the loop here; the subscription's own bounded buffer then decides what is dropped.
          if (!res.write(formatEvent(item))) await Promise.race([new Promise((resolve) => res.once('drain', resolve)), closed])
          if (res.destroyed) break
        }
      } catch (err) {
        request.log.warn({ err }, 'event stream ended by an error')
      } finally {
        clearInterval(heartbeat)
        onClient?.(-1)
        await subscription.return()
        res.end()
        open.delete(abort)
        ended()
      }
    },
  )
}

function formatEvent(item: SubscriptionItem): string {
  if (item.kind === 'gap') {
    const { node, from, to } = item
    return `id: ${encodeCursor(item.cursor)}\nevent: gap\ndata: ${JSON.stringify({ kind: 'gap', node, from, to })}\n\n`
  }
  return `id: ${encodeCursor(item.cursor)}\nevent: entry\ndata: ${JSON.stringify(item.entry)}\n\n`
}

function parseBuffer(text: string): number {
  const n = /^[0-9]{1,6}$/.test(text) ? Number(text) : Number.NaN
  if (!Number.isSafeInteger(n) || n < 1 || n > MAX_BUFFER) {
    throw new YlogError(
      'BAD_ARGUMENT',
      `buffer ${JSON.stringify(text.slice(0, 40))} is not a buffer size: use an integer 1-100000 (default 1024)`,
    )
  }
  return n
}
