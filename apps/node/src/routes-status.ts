import type { DurableLog, NodeIdentity, StoreHealth } from '@ylog/core'
import type { SyncConnectionInfo } from '@ylog/sync'
import type { FastifyInstance } from 'fastify'
import type { Guard } from './access.js'
import { errorResponses, NODE_ID, type Auth } from './api-schemas.js'
import type { PeerInfo } from './cluster.js'
import type { GapCounter } from './gap-counter.js'
import type { NodeMetrics } from './metrics.js'

const ZERO_HASH = '0'.repeat(64)

export interface ClusterView {
  name: string
  peers(): PeerInfo[]
  connections(): SyncConnectionInfo[]
}

const range = {
  type: 'object',
  additionalProperties: false,
  required: ['from', 'to'],
  properties: { from: { type: 'integer' }, to: { type: 'integer' } },
} as const
const ranges = { type: 'array', items: range, description: 'seq ranges known to exist elsewhere but missing here' } as const
const headFields = {
  node: NODE_ID,
  length: { type: 'integer', minimum: 0, description: 'committed entries held' },
  hash: { type: 'string', description: "the last entry's hash" },
  at: { type: ['integer', 'null'], description: "the last entry's at; null for a node known only from a hole" },
  forked: { type: 'boolean' },
  gaps: { type: 'integer', minimum: 0, description: 'gap entries it wrote' },
} as const

const headsSchema = {
  description: 'per node heads, and holes by node',
  type: 'object',
  additionalProperties: false,
  required: ['heads', 'holes'],
  properties: {
    heads: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['node', 'length', 'hash', 'at', 'forked', 'gaps'],
        properties: headFields,
      },
    },
    holes: { type: 'object', additionalProperties: ranges },
  },
} as const

const nodesSchema = {
  description: 'the cluster as this node sees it',
  type: 'object',
  additionalProperties: false,
  required: ['self', 'cluster', 'membership', 'nodes', 'peers', 'connections'],
  properties: {
    self: NODE_ID,
    cluster: { type: 'string' },
    membership: {
      type: 'object',
      additionalProperties: false,
      required: ['mode'],
      properties: { mode: { type: 'string', enum: ['open', 'list'] }, members: { type: 'array', items: NODE_ID } },
    },
    nodes: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['node', 'length', 'hash', 'at', 'forked', 'holes', 'gaps'],
        properties: { ...headFields, holes: ranges },
      },
    },
    // Peer and connection records come from @ylog/sync and the cluster; open, so a field added there is not dropped here.
    peers: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: true,
        properties: {
          url: { type: 'string' },
          state: { type: 'string' },
          node: { type: ['string', 'null'] },
          lastMessageAt: { type: ['integer', 'null'] },
          lag: { type: ['integer', 'null'] },
        },
      },
    },
    connections: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: true,
        properties: {
          remoteAddress: { type: ['string', 'null'] },
          node: { type: ['string', 'null'] },
          lastMessageAt: { type: ['integer', 'null'] },
          messagesIn: { type: 'integer' },
          messagesOut: { type: 'integer' },
        },
      },
    },
  },
} as const

const readyResponses = {
  200: {
    description: 'ready; store and note say when the log lives in memory only',
    type: 'object',
    additionalProperties: false,
    required: ['ok', 'replaySeconds'],
    properties: {
      ok: { type: 'boolean', enum: [true] },
      replaySeconds: { type: 'number' },
      store: { type: 'string', enum: ['memory'] },
      note: { type: 'string' },
    },
  },
  503: {
    description: 'not ready: the store failed (retrying, or stopped for good), or the node is shutting down',
    type: 'object',
    additionalProperties: false,
    required: ['ok', 'reason'],
    properties: {
      ok: { type: 'boolean', enum: [false] },
      reason: { type: 'string' },
      store: {
        type: 'string',
        enum: ['retrying', 'stopped'],
        description: 'retrying: the failure can pass (disk full, I/O) and the node tries again; stopped: it needs a restart',
      },
      code: { type: 'string', description: 'the error writes are refused with (STORE_FULL, STORE_IO, STORE_FAILED, …)' },
      since: { type: 'string', format: 'date-time', description: 'when writes stopped' },
      lastTryAt: { type: 'string', format: 'date-time', description: 'when the node last tried the store again' },
      nextTryAt: { type: 'string', format: 'date-time', description: 'when it tries next' },
      attempts: { type: 'integer', minimum: 0, description: 'tries since writes stopped' },
    },
  },
  ...errorResponses([]),
} as const

export const NO_CLUSTER: ClusterView = { name: 'ylog', peers: () => [], connections: () => [] }

export interface StatusRoutesOptions {
  durable: DurableLog
  identity: NodeIdentity
  metrics: NodeMetrics
  cluster: ClusterView
  gaps: GapCounter | undefined
  requireRead: Guard
  auth: Auth
  /** The log lives in memory only (`--store memory`): /readyz says so. */
  volatile?: boolean
  /** Why the node is not ready (a failed store, shutting down), or undefined when it is. */
  notReady: () => string | undefined
}

export function statusRoutes(
  app: FastifyInstance,
  { durable, identity, metrics, cluster, gaps, requireRead, auth, notReady, volatile = false }: StatusRoutesOptions,
): void {
  const gapsOf = (node: string): number => gaps?.get(node) ?? 0

  const readErrors = errorResponses(auth.codes)
  app.get(
    '/api/heads',
    {
      schema: {
        operationId: 'getHeads',
        summary: "Each node's committed length and last hash, holes, and gap entry counts",
        security: auth.security,
        response: { 200: headsSchema, ...readErrors },
      },
      onRequest: requireRead,
    },
    async () => {
      const heads = [...durable.heads().values()].map((head) => ({ ...head, gaps: gapsOf(head.node) }))
      return { heads, holes: Object.fromEntries(durable.holes()) }
    },
  )

  app.get(
    '/api/nodes',
    {
      schema: {
        operationId: 'getNodes',
        summary: 'Known nodes, membership, peers and sync connections',
        security: auth.security,
        response: { 200: nodesSchema, ...readErrors },
      },
      onRequest: requireRead,
    },
    async () => {
      const heads = durable.heads()
      const holes = durable.holes()
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
          gaps: gapsOf(node),
        }
      })
      return {
        self: identity.id,
        cluster: cluster.name,
        membership: durable.membership.describe(),
        nodes,
        peers: cluster.peers(),
        connections: cluster.connections(),
      }
    },
  )

  const ok = {
    type: 'object',
    additionalProperties: false,
    required: ['ok'],
    properties: { ok: { type: 'boolean', enum: [true] } },
  } as const
  app.get(
    '/healthz',
    {
      schema: {
        operationId: 'health',
        summary: 'Alive',
        response: { 200: { description: 'the process serves', ...ok }, ...errorResponses([]) },
      },
    },
    async () => ({ ok: true }),
  )

  app.get(
    '/readyz',
    { schema: { operationId: 'ready', summary: 'Replay finished and the store takes writes', response: readyResponses } },
    async (_request, reply) => {
      // Replay has finished before the server is built; what remains is a failed store or shutdown.
      const reason = notReady()
      if (reason !== undefined) return reply.code(503).send({ ok: false, reason })
      const health = durable.health
      if (health.state !== 'ok') return reply.code(503).send(storeNotReady(health))
      return {
        ok: true,
        replaySeconds: durable.replaySeconds,
        ...(volatile ? { store: 'memory', note: 'nothing survives a restart' } : {}),
      }
    },
  )

  const text = { description: 'Prometheus text format', content: { 'text/plain': { schema: { type: 'string' } } } }
  app.get(
    '/metrics',
    { schema: { operationId: 'metrics', summary: 'Prometheus metrics', response: { 200: text, ...errorResponses([]) } } },
    async (_request, reply) => {
      return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics())
    },
  )
}

/** /readyz while the store refuses writes: why, since when, and when the node last tried and tries next. */
function storeNotReady(health: StoreHealth): Record<string, unknown> {
  const retrying = 'the store refuses writes for now; the node retries by itself'
  const what = health.state === 'retrying' ? retrying : 'the store failed, writes are refused until restart'
  const times = { since: health.since, lastTryAt: health.lastTryAt, nextTryAt: health.nextTryAt }
  return {
    ok: false,
    reason: `${what}: ${health.error?.message ?? 'unknown'}`,
    store: health.state,
    ...(health.error === undefined ? {} : { code: health.error.code }),
    ...Object.fromEntries(Object.entries(times).flatMap(([key, ms]) => (ms === undefined ? [] : [[key, new Date(ms).toISOString()]]))),
    attempts: health.attempts,
  }
}
