import type { DurableLog, NodeIdentity } from '@ylog/core'
import type { SyncConnectionInfo } from '@ylog/sync'
import type { FastifyInstance } from 'fastify'
import type { Guard } from './access.js'
import type { PeerInfo } from './cluster.js'
import type { GapCounter } from './gap-counter.js'
import type { NodeMetrics } from './metrics.js'

const ZERO_HASH = '0'.repeat(64)

export interface ClusterView {
  name: string
  peers(): PeerInfo[]
  connections(): SyncConnectionInfo[]
}

export const NO_CLUSTER: ClusterView = { name: 'ylog', peers: () => [], connections: () => [] }

export interface StatusRoutesOptions {
  durable: DurableLog
  identity: NodeIdentity
  metrics: NodeMetrics
  cluster: ClusterView
  gaps: GapCounter | undefined
  requireRead: Guard
  /** The log lives in memory only (`--store memory`): /readyz says so. */
  volatile?: boolean
  /** Why the node is not ready (a failed store, shutting down), or undefined when it is. */
  notReady: () => string | undefined
}

export function statusRoutes(app: FastifyInstance, { durable, identity, metrics, cluster, gaps, requireRead, notReady, volatile = false }: StatusRoutesOptions): void {
  const gapsOf = (node: string): number => gaps?.get(node) ?? 0

  app.get('/api/heads', { schema: { summary: "Each node's committed length and last hash, holes, and gap entry counts" }, onRequest: requireRead }, async () => {
    const heads = [...durable.heads().values()].map((head) => ({ ...head, gaps: gapsOf(head.node) }))
    return { heads, holes: Object.fromEntries(durable.holes()) }
  })

  app.get('/api/nodes', { schema: { summary: 'Known nodes, membership, peers and sync connections' }, onRequest: requireRead }, async () => {
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
  })

  app.get('/healthz', { schema: { summary: 'Alive' } }, async () => ({ ok: true }))

  app.get('/readyz', { schema: { summary: 'Replay finished and the store takes writes' } }, async (_request, reply) => {
    // Replay has finished before the server is built; what remains is a failed store or shutdown.
    const reason = notReady()
    if (reason !== undefined) return reply.code(503).send({ ok: false, reason })
    return { ok: true, replaySeconds: durable.replaySeconds, ...(volatile ? { store: 'memory', note: 'nothing survives a restart' } : {}) }
  })

  app.get('/metrics', { schema: { summary: 'Prometheus metrics' } }, async (_request, reply) => {
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics())
  })
}
