import type { FastifyInstance } from 'fastify'
import type { Guard } from './access.js'
import { CURSOR, errorResponses, KIND, TOPIC, WITH_BODY, type Auth } from './api-schemas.js'
import type { AckOptions, Consumers } from './consumers.js'

const nameParams = {
  type: 'object',
  required: ['name'],
  properties: {
    name: {
      type: 'string',
      pattern: '^[A-Za-z0-9._-]{1,128}$',
      examples: ['billing'],
      description: '1-128 characters of A-Z a-z 0-9 . _ -',
    },
  },
} as const

const ackSchema = {
  type: 'object',
  required: ['cursor'],
  additionalProperties: false,
  properties: {
    cursor: { ...CURSOR, description: 'the "next" cursor of the last page (or stream id) the consumer processed' },
    rewind: {
      type: 'boolean',
      description: 'true to move the consumer back on purpose (an ack that goes backwards is otherwise 409 CURSOR_BACKWARDS)',
    },
    topic: {
      anyOf: [TOPIC, { type: 'null' }],
      description: 'the consumer reads only this topic from now on; null: every topic; absent: as before',
    },
    kind: {
      anyOf: [KIND, { type: 'null' }],
      description: 'the consumer reads only this kind from now on; null: every kind; absent: as before',
    },
  },
} as const

const consumerSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'cursor', 'ackedAt', 'behind', 'topic', 'kind'],
  properties: {
    name: { type: 'string' },
    cursor: { type: ['string', 'null'], description: 'where it resumes (pass as after); null when never acked: the start of the log' },
    ackedAt: { type: ['integer', 'null'], description: 'ms since the epoch of the last ack' },
    behind: { type: 'integer', minimum: 0, description: 'committed entries after the cursor that its filter selects' },
    topic: { type: ['string', 'null'], description: 'its topic filter, or null' },
    kind: { type: ['string', 'null'], enum: [...KIND.enum, null], description: 'its kind filter, or null' },
  },
} as const

export function consumerRoutes(
  app: FastifyInstance,
  consumers: Consumers,
  guards: { requireRead: Guard; requireWrite: Guard; auth: { read: Auth; write: Auth } },
): void {
  const { read, write } = guards.auth
  app.get<{ Params: { name: string } }>(
    '/api/consumers/:name',
    {
      schema: {
        operationId: 'getConsumer',
        summary: "A named consumer's stored cursor (null if never acked: it starts at the beginning), filter and how far behind it is",
        params: nameParams,
        security: read.security,
        response: { 200: { description: 'the consumer', ...consumerSchema }, ...errorResponses(['BAD_CONSUMER', ...read.codes]) },
      },
      onRequest: guards.requireRead,
    },
    async (request) => consumers.get(request.params.name),
  )

  // Acking moves shared state, so it needs the write token when one is configured.
  app.put<{ Params: { name: string }; Body: { cursor: string } & AckOptions }>(
    '/api/consumers/:name',
    {
      schema: {
        operationId: 'putConsumer',
        summary: "Ack: store a consumer's cursor, forward only unless rewind; optionally set its topic/kind filter",
        params: nameParams,
        body: ackSchema,
        security: write.security,
        response: {
          200: { description: 'the consumer as stored', ...consumerSchema },
          ...errorResponses([
            ...WITH_BODY,
            'BAD_CONSUMER',
            'BAD_CURSOR',
            'BAD_TOPIC',
            'CURSOR_AHEAD',
            'CURSOR_BACKWARDS',
            'STORE_FAILED',
            'CLOSED',
            ...write.codes,
          ]),
        },
      },
      onRequest: guards.requireWrite,
    },
    async (request) => {
      const { cursor, rewind, topic, kind } = request.body
      return consumers.ack(request.params.name, cursor, { rewind, topic, kind })
    },
  )
}
