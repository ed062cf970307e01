import { logDocOf } from '@ylog/core/internal'
import { DurableLog, MemoryUpdateStore, memberList, NodeIdentity, type NodeStore } from '@ylog/core'
import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import { createMetrics } from './metrics.js'
import { buildServer } from './server.js'
import { event, post, serverHarness } from './server-testing.js'

const { setup, open } = serverHarness()

describe('status endpoints', () => {
  it('reports heads and holes', async () => {
    const { app, identity } = await setup({ store: new MemoryUpdateStore() })
    await post(app, event(0))
    await post(app, event(1))
    const res = await app.inject({ url: '/api/heads' })
    expect(res.json()).toEqual({
      heads: [{ node: identity.id, length: 2, hash: expect.any(String), at: expect.any(Number), forked: false, gaps: 0 }],
      holes: {},
    })
  })

  it('reports nodes, membership, peers and connections on /api/nodes', async () => {
    const { app, identity, durable } = await setup({ store: new MemoryUpdateStore() })
    await post(app, event(0))
    await post(app, event(1))
    // A node known only from a hole: three of its entries exist elsewhere, none here.
    const other = NodeIdentity.generate().id
    logDocOf(durable).noteKnown(other, 2)
    const res = await app.inject({ url: '/api/nodes' })
    expect(res.statusCode).toBe(200)
    const nodes = [
      {
        node: identity.id,
        length: 2,
        hash: expect.stringMatching(/^[0-9a-f]{64}$/),
        at: expect.any(Number),
        forked: false,
        holes: [],
        gaps: 0,
      },
      { node: other, length: 0, hash: '0'.repeat(64), at: null, forked: false, holes: [{ from: 0, to: 2 }], gaps: 0 },
    ].sort((a, b) => (a.node < b.node ? -1 : 1))
    expect(res.json()).toEqual({ self: identity.id, cluster: 'ylog', membership: { mode: 'open' }, nodes, peers: [], connections: [] })
  })

  it('takes the cluster name, peers and connections from the cluster view', async () => {
    const identity = NodeIdentity.generate()
    const durable = await DurableLog.open({ identity, store: new MemoryUpdateStore(), membership: memberList([identity.id]) })
    const peer = { url: 'ws://127.0.0.1:1/sync', state: 'connecting' as const, node: null, lastMessageAt: null, lag: 0 }
    const connection = { remoteAddress: '127.0.0.1', node: null, lastMessageAt: 5, messagesIn: 1, messagesOut: 2 }
    const app = buildServer({
      durable,
      tables: new MemoryUpdateStore(),
      identity,
      config: { writeToken: undefined },
      metrics: createMetrics(durable, { defaultMetrics: false }),
      logger: pino({ level: 'silent' }),
      cluster: { name: 'prod', peers: () => [peer], connections: () => [connection] },
    })
    open.push({ app, durable, identity, length: () => 0 })
    const body = (await app.inject({ url: '/api/nodes' })).json()
    expect(body).toEqual({
      self: identity.id,
      cluster: 'prod',
      membership: { mode: 'list', members: [identity.id] },
      nodes: [],
      peers: [peer],
      connections: [connection],
    })
  })

  it('answers /healthz, /readyz and /metrics', async () => {
    const { app } = await setup()
    await post(app, event(0))
    const health = await app.inject({ url: '/healthz' })
    expect(health.statusCode).toBe(200)
    expect(health.json()).toEqual({ ok: true })
    const ready = await app.inject({ url: '/readyz' })
    expect(ready.statusCode).toBe(200)
    expect(ready.json()).toMatchObject({ ok: true })
    const metrics = await app.inject({ url: '/metrics' })
    expect(metrics.statusCode).toBe(200)
    expect(metrics.headers['content-type']).toContain('text/plain')
    for (const name of [
      'ylog_appends_total',
      'ylog_commits_total',
      'ylog_commit_batch_entries_bucket{le="4096"}',
      'ylog_commit_seconds_bucket',
      'ylog_compaction_seconds_bucket',
      'ylog_replay_seconds',
      'ylog_database_bytes',
      'ylog_entries 1',
    ]) {
      expect(metrics.body).toContain(name)
    }
    expect(Number(/^ylog_database_bytes (\d+)$/m.exec(metrics.body)?.[1])).toBeGreaterThan(0)
  })

  it('includes default process metrics when asked', async () => {
    const identity = NodeIdentity.generate()
    const durable = await DurableLog.open({ identity, store: new MemoryUpdateStore() })
    const metrics = createMetrics(durable)
    expect(await metrics.registry.metrics()).toContain('process_cpu_user_seconds_total')
    metrics.close()
    await durable.close()
  })

  it('answers 503 to writes and readiness once the store has failed', async () => {
    const memory = new MemoryUpdateStore()
    let broken = false
    const store: NodeStore = {
      append: (records) => (broken ? Promise.reject(new Error('disk full')) : memory.append(records)),
      load: () => memory.load(),
      compact: (s, upTo) => memory.compact(s, upTo),
      query: (q) => memory.query(q),
      stats: () => memory.stats(),
      findIdempotency: (key) => memory.findIdempotency(key),
      pruneIdempotency: (before) => memory.pruneIdempotency(before),
      readConsumer: (name) => memory.readConsumer(name),
      writeConsumer: (record) => memory.writeConsumer(record),
      close: () => memory.close(),
    }
    const { app } = await setup({ store })
    expect((await post(app, event(0))).statusCode).toBe(201)
    broken = true
    const failed = await post(app, event(1))
    expect(failed.statusCode).toBe(503)
    expect(failed.json().error.code).toBe('STORE_FAILED')
    expect(failed.json().error.message).toContain('disk full')
    const again = await post(app, event(2))
    expect(again.statusCode).toBe(503)
    const ready = await app.inject({ url: '/readyz' })
    expect(ready.statusCode).toBe(503)
    expect(ready.json().reason).toContain('the store failed')
    expect((await app.inject({ url: '/healthz' })).statusCode).toBe(200)
  })
})
