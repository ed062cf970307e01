import { peekEntry, peekTopicKind, type DurableLog, type NodeId } from '@ylog/core'
import type { FastifyInstance } from 'fastify'
import type { Guard } from './access.js'
import { errorResponses, NODE_ID, type Auth } from './api-schemas.js'

export interface TopicView {
  topic: string
  count: number
  /** The topic's newest entry by (at, node, seq). */
  latest: { id: string; node: NodeId; seq: number; at: number }
}

/**
 * Entry counts and newest entries per topic. Counted once, on the first
 * request, from the committed entries' headers (no full decode), then kept
 * up to date from each commit's index rows: a node that is never asked pays
 * nothing.
 */
export class TopicCounts {
  readonly #durable: DurableLog
  #topics: Map<string, TopicView> | undefined
  readonly #unsubscribe: () => void

  constructor(durable: DurableLog) {
    this.#durable = durable
    // Before the first count, commits are left to it: it reads everything committed by then.
    this.#unsubscribe = durable.onCommit((_info, _updates, rows) => {
      if (this.#topics !== undefined) for (const row of rows) this.#add(this.#topics, row.topic, row.node, row.seq, row.at)
    })
  }

  list(): TopicView[] {
    this.#topics ??= this.#count()
    return [...this.#topics.values()].sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : 0))
  }

  close(): void {
    this.#unsubscribe()
  }

  #count(): Map<string, TopicView> {
    const topics = new Map<string, TopicView>()
    for (const node of this.#durable.nodes()) {
      const length = this.#durable.committedLength(node)
      for (let seq = 0; seq < length; seq++) {
        const bytes = this.#durable.getBytes(node, seq)
        const topic = bytes === undefined ? undefined : peekTopicKind(bytes)?.topic
        const at = bytes === undefined ? undefined : peekEntry(bytes)?.at
        if (topic !== undefined && at !== undefined) this.#add(topics, topic, node, seq, at)
      }
    }
    return topics
  }

  #add(topics: Map<string, TopicView>, topic: string, node: NodeId, seq: number, at: number): void {
    const view = topics.get(topic)
    const latest = { id: `${node}:${seq}`, node, seq, at }
    if (view === undefined) topics.set(topic, { topic, count: 1, latest })
    else {
      view.count++
      const { at: lastAt, node: lastNode, seq: lastSeq } = view.latest
      if (at > lastAt || (at === lastAt && (node > lastNode || (node === lastNode && seq > lastSeq)))) view.latest = latest
    }
  }
}

const topicsSchema = {
  description: 'every topic with committed entries, sorted',
  type: 'object',
  additionalProperties: false,
  required: ['topics'],
  properties: {
    topics: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['topic', 'count', 'latest'],
        properties: {
          topic: { type: 'string' },
          count: { type: 'integer', minimum: 1 },
          latest: {
            type: 'object',
            additionalProperties: false,
            required: ['id', 'node', 'seq', 'at'],
            description: 'the newest entry by (at, node, seq)',
            properties: { id: { type: 'string' }, node: NODE_ID, seq: { type: 'integer', minimum: 0 }, at: { type: 'integer' } },
          },
        },
      },
    },
  },
} as const

export function topicRoutes(
  app: FastifyInstance,
  { durable, requireRead, auth }: { durable: DurableLog; requireRead: Guard; auth: Auth },
): void {
  const counts = new TopicCounts(durable)
  app.addHook('onClose', async () => counts.close())
  const schema = {
    operationId: 'listTopics',
    summary: 'Each topic with its entry count and newest entry',
    security: auth.security,
    response: { 200: topicsSchema, ...errorResponses(auth.codes) },
  }
  app.get('/api/topics', { schema, onRequest: requireRead }, async () => ({ topics: counts.list() }))
}
