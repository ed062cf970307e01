import type { FastifyInstance } from 'fastify'
import type { Guard } from './access.js'
import type { Consumers } from './consumers.js'

const nameParams = { type: 'object', properties: { name: { type: 'string' } } } as const
const ackSchema = {
  type: 'object',
  required: ['cursor'],
  additionalProperties: false,
  properties: {
    cursor: { type: 'string', description: 'the "next" cursor of the last page (or stream id) the consumer processed' },
    rewind: { type: 'boolean', description: 'true to move the consumer back on purpose (an ack that goes backwards is otherwise 409 CURSOR_BACKWARDS)' },
  },
} as const

export function consumerRoutes(app: FastifyInstance, consumers: Consumers, guards: { requireRead: Guard; requireWrite: Guard }): void {
  app.get<{ Params: { name: string } }>(
    '/api/consumers/:name',
    { schema: { summary: "A named consumer's stored cursor (null if never acked: it starts at the beginning)", params: nameParams }, onRequest: guards.requireRead },
    async (request) => consumers.get(request.params.name),
  )

  // Acking moves shared state, so it needs the write token when one is configured.
  app.put<{ Params: { name: string }; Body: { cursor: string; rewind?: boolean } }>(
    '/api/consumers/:name',
    { schema: { summary: "Ack: store a consumer's cursor; it may only move forward", params: nameParams, body: ackSchema }, onRequest: guards.requireWrite },
    async (request) => consumers.ack(request.params.name, request.body.cursor, { rewind: request.body.rewind }),
  )
}
