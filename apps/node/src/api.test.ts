// The consumer-facing routes: batches, idempotency, filtered reads, named consumers, tokens, OpenAPI.
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DurableLog, NodeIdentity } from '@ylog/core'
import { SqliteUpdateStore } from '@ylog/sqlite'
import type { FastifyInstance } from 'fastify'
import { pino } from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import { createMetrics } from './metrics.js'
import { buildServer } from './server.js'

interface Node {
  app: FastifyInstance
  durable: DurableLog
  identity: NodeIdentity
  file: string
}

const open: Node[] = []

async function setup(
  options: { writeToken?: string; readToken?: string; file?: string; identity?: NodeIdentity; now?: () => number } = {},
): Promise<Node> {
  const identity = options.identity ?? NodeIdentity.generate()
  const file = options.file ?? join(mkdtempSync(join(tmpdir(), 'ylog-api-')), 'ylog.db')
  const store = SqliteUpdateStore.open(file, { durability: 'normal' })
  const durable = await DurableLog.open({ identity, store, now: options.now })
  const metrics = createMetrics(durable, { defaultMetrics: false })
  const app = buildServer({
    durable,
    tables: store,
    identity,
    config: { writeToken: options.writeToken, readToken: options.readToken },
    metrics,
    logger: pino({ level: 'silent' }),
  })
  await app.ready()
  const node = { app, durable, identity, file }
  open.push(node)
  return node
}

async function restart(node: Node): Promise<Node> {
  open.splice(open.indexOf(node), 1)
  await node.app.close()
  await node.durable.close()
  return setup({ file: node.file, identity: node.identity })
}

afterEach(async () => {
  for (const node of open.splice(0)) {
    await node.app.close()
    await node.durable.close().catch(() => undefined)
  }
})

const event = (n: number, topic = 'agents'): { topic: string; kind: 'event'; data: { n: number } } => ({
  topic,
  kind: 'event',
  data: { n },
})

describe('POST /api/events/batch', () => {
  it('commits every entry of the batch with contiguous seqs', async () => {
    const { app, durable, identity } = await setup()
    const res = await app.inject({ method: 'POST', url: '/api/events/batch', payload: [event(0), event(1), event(2)] })
    expect(res.statusCode).toBe(201)
    expect(res.json().entries.map((e: { seq: number }) => e.seq)).toEqual([0, 1, 2])
    const stored = durable.get(identity.id, 2)
    expect(res.json().entries[2]).toEqual({ node: identity.id, seq: 2, id: `${identity.id}:2`, hash: stored?.hash, at: stored?.at })
    expect((await durable.storeStats()).updates).toBe(1)
  })

  it('writes nothing when one entry is invalid, naming which', async () => {
    const { app, durable, identity } = await setup()
    const res = await app.inject({
      method: 'POST',
      url: '/api/events/batch',
      payload: [event(0), { topic: 'bad topic!', kind: 'event', data: 1 }],
    })
    expect(res.statusCode).toBe(400)
    expect(res.json().error.message).toMatch(/^batch entry 1: /)
    const schema = await app.inject({ method: 'POST', url: '/api/events/batch', payload: [event(0), { topic: 't', kind: 'gap', data: 1 }] })
    expect(schema.statusCode).toBe(400)
    expect(schema.json().error.message).toContain('body[1].kind "gap" is not accepted from clients')
    expect((await app.inject({ method: 'POST', url: '/api/events/batch', payload: [] })).statusCode).toBe(400)
    expect(
      (await app.inject({ method: 'POST', url: '/api/events/batch', payload: Array.from({ length: 1001 }, (_, i) => event(i)) }))
        .statusCode,
    ).toBe(400)
    expect(durable.committedLength(identity.id)).toBe(0)
  })
})

describe('Idempotency-Key', () => {
  it('answers a repeat with the first answer and writes nothing, also after a restart', async () => {
    let node = await setup()
    const headers = { 'idempotency-key': 'order-1' }
    const first = await node.app.inject({ method: 'POST', url: '/api/events', payload: event(1), headers })
    expect(first.statusCode).toBe(201)
    // Concurrent repeats see the first one's record.
    const repeats = await Promise.all(
      [1, 2, 3].map(() =>
        node.app.inject({ method: 'POST', url: '/api/events', payload: { data: { n: 1 }, kind: 'event', topic: 'agents' }, headers }),
      ),
    )
    for (const again of repeats) {
      expect(again.statusCode).toBe(201)
      expect(again.json()).toEqual(first.json())
      expect(again.headers['idempotent-replayed']).toBe('true')
    }
    expect(node.durable.committedLength(node.identity.id)).toBe(1)
    node = await restart(node)
    const afterRestart = await node.app.inject({ method: 'POST', url: '/api/events', payload: event(1), headers })
    expect(afterRestart.json()).toEqual(first.json())
    const conflict = await node.app.inject({ method: 'POST', url: '/api/events', payload: event(2), headers })
    expect(conflict.statusCode).toBe(409)
    expect(conflict.json().error.code).toBe('IDEMPOTENCY_CONFLICT')
    expect(node.durable.committedLength(node.identity.id)).toBe(1)
  })

  it('covers batches, and a key used for one route conflicts on another', async () => {
    const { app, durable, identity } = await setup()
    const headers = { 'idempotency-key': 'batch-7' }
    const first = await app.inject({ method: 'POST', url: '/api/events/batch', payload: [event(1), event(2)], headers })
    const again = await app.inject({ method: 'POST', url: '/api/events/batch', payload: [event(1), event(2)], headers })
    expect(again.json()).toEqual(first.json())
    expect((await app.inject({ method: 'POST', url: '/api/events', payload: event(1), headers })).statusCode).toBe(409)
    expect(durable.committedLength(identity.id)).toBe(2)
    const bad = await app.inject({ method: 'POST', url: '/api/events', payload: event(1), headers: { 'idempotency-key': 'has space' } })
    expect(bad.statusCode).toBe(400)
    expect(bad.json().error.code).toBe('BAD_IDEMPOTENCY_KEY')
  })
})

describe('GET /api/events filters', () => {
  it('reads by time, topic and kind, and continues with next', async () => {
    let now = 10_000
    const { app } = await setup({ now: () => (now += 100) })
    for (let i = 0; i < 30; i++)
      await app.inject({ method: 'POST', url: '/api/events', payload: event(i, i % 3 === 0 ? 'rare' : 'common') })
    const since = 10_000 + 100 * 21
    const page = await app.inject({ url: `/api/events?since=${since}&limit=5` })
    expect(page.json().entries.map((e: { data: { n: number } }) => e.data.n)).toEqual([20, 21, 22, 23, 24])
    const rest = await app.inject({ url: `/api/events?after=${page.json().next}&limit=100` })
    expect(rest.json().entries.map((e: { data: { n: number } }) => e.data.n)).toEqual([25, 26, 27, 28, 29])
    const rare = await app.inject({ url: '/api/events?topic=rare&kind=event&limit=100' })
    expect(rare.json().entries.map((e: { data: { n: number } }) => e.data.n)).toEqual([0, 3, 6, 9, 12, 15, 18, 21, 24, 27])
    expect((await app.inject({ url: '/api/events?kind=transition' })).json().entries).toEqual([])
    for (const [url, message] of [
      ['/api/events?since=-5', 'since "-5" is out of range'],
      ['/api/events?since=soon', 'since "soon" is not an integer'],
      ['/api/events?kind=note', 'query.kind must be one of "transition", "event", "gap", got "note"'],
      ['/api/events?topic=%20x', 'topic'],
      ['/api/events?after=c1.%21', 'cursor'],
    ] as const) {
      const res = await app.inject({ url })
      expect(res.statusCode, url).toBe(400)
      expect(res.json().error.message, url).toContain(message)
    }
  })
})

describe('named consumers', () => {
  it('start at the beginning, ack forward only, and survive a restart', async () => {
    let node = await setup()
    for (let i = 0; i < 5; i++) await node.app.inject({ method: 'POST', url: '/api/events', payload: event(i) })
    const fresh = await node.app.inject({ url: '/api/consumers/billing' })
    expect(fresh.json()).toEqual({ name: 'billing', cursor: null, ackedAt: null, behind: 5, topic: null, kind: null })
    const page = (await node.app.inject({ url: '/api/events?limit=3' })).json()
    const ack = await node.app.inject({ method: 'PUT', url: '/api/consumers/billing', payload: { cursor: page.next } })
    expect(ack.statusCode).toBe(200)
    expect(ack.json()).toMatchObject({ name: 'billing', cursor: page.next, behind: 2, ackedAt: expect.any(Number) })
    const backwards = await node.app.inject({ method: 'PUT', url: '/api/consumers/billing', payload: { cursor: 'c1.gA' } })
    expect(backwards.statusCode).toBe(409)
    expect(backwards.json().error).toMatchObject({ code: 'CURSOR_BACKWARDS', message: expect.stringContaining('acks only move forward') })
    node = await restart(node)
    expect((await node.app.inject({ url: '/api/consumers/billing' })).json()).toMatchObject({ cursor: page.next, behind: 2 })
    const all = (await node.app.inject({ url: '/api/events?limit=100' })).json()
    const ahead = (await node.app.inject({ url: `/api/events?limit=100&after=${all.next}` })).json()
    expect(ahead.next).toBe(all.next)
    await node.durable.append({ topic: 't', kind: 'event', data: 'x' })
    const done = await node.app.inject({
      method: 'PUT',
      url: '/api/consumers/billing',
      payload: { cursor: (await node.app.inject({ url: '/api/events?limit=100' })).json().next },
    })
    expect(done.json().behind).toBe(0)
  })

  it('keep a topic/kind filter set on PUT, count behind through it, and clear it with null', async () => {
    let node = await setup()
    const append = (topic: string, kind: 'event' | 'transition') =>
      node.app.inject({
        method: 'POST',
        url: '/api/events',
        payload: { topic, kind, data: kind === 'event' ? 1 : { subject: 's', from: 'a', to: 'b', event: 'e' } },
      })
    for (let i = 0; i < 6; i++) await append(i % 2 === 0 ? 'builds' : 'deploys', i < 4 ? 'event' : 'transition')
    const start = (await node.app.inject({ url: '/api/events?limit=1' })).json().next as string
    const put = (body: Record<string, unknown>) =>
      node.app.inject({ method: 'PUT', url: '/api/consumers/ci', payload: { cursor: start, ...body } })
    // Entries 0-5: builds are 0, 2, 4 (4 a transition); the cursor is past entry 0.
    expect((await put({ topic: 'builds' })).json()).toMatchObject({ topic: 'builds', kind: null, behind: 2 })
    expect((await put({})).json()).toMatchObject({ topic: 'builds', behind: 2 })
    expect((await put({ kind: 'transition' })).json()).toMatchObject({ topic: 'builds', kind: 'transition', behind: 1 })
    node = await restart(node)
    expect((await node.app.inject({ url: '/api/consumers/ci' })).json()).toMatchObject({
      cursor: start,
      topic: 'builds',
      kind: 'transition',
      behind: 1,
    })
    await append('builds', 'transition')
    await append('deploys', 'transition')
    expect((await node.app.inject({ url: '/api/consumers/ci' })).json().behind).toBe(2)
    expect((await put({ topic: null })).json()).toMatchObject({ topic: null, kind: 'transition', behind: 4 })
    expect((await put({ kind: null })).json()).toMatchObject({ topic: null, kind: null, behind: 7 })
    expect((await put({ topic: 'bad topic' })).json().error.code).toBe('BAD_TOPIC')
    expect((await put({ kind: 'note' })).statusCode).toBe(400)
    expect((await node.app.inject({ url: '/api/consumers/ci' })).json()).toMatchObject({ topic: null, kind: null })
  })

  it('refuse bad names, bad cursors and cursors past the log', async () => {
    const { app } = await setup()
    await app.inject({ method: 'POST', url: '/api/events', payload: event(0) })
    const next = (await app.inject({ url: '/api/events' })).json().next as string
    const other = await setup()
    expect((await other.app.inject({ method: 'PUT', url: '/api/consumers/c', payload: { cursor: next } })).json().error.code).toBe(
      'CURSOR_AHEAD',
    )
    expect((await app.inject({ url: '/api/consumers/bad%20name' })).json().error.code).toBe('BAD_CONSUMER')
    expect((await app.inject({ method: 'PUT', url: '/api/consumers/c', payload: { cursor: 'x' } })).json().error.code).toBe('BAD_CURSOR')
    expect((await app.inject({ method: 'PUT', url: '/api/consumers/c', payload: {} })).statusCode).toBe(400)
  })
})

describe('access and description', () => {
  it('closes reads behind a read token (the write token also reads); health stays open', async () => {
    const { app } = await setup({ writeToken: 'w-secret', readToken: 'r-secret' })
    expect((await app.inject({ url: '/api/events' })).statusCode).toBe(401)
    expect((await app.inject({ url: '/api/events', headers: { authorization: 'Bearer r-secret' } })).statusCode).toBe(200)
    expect((await app.inject({ url: '/api/heads', headers: { authorization: 'Bearer w-secret' } })).statusCode).toBe(200)
    expect((await app.inject({ url: '/api/consumers/x', headers: { authorization: 'Bearer nope' } })).json().error.message).toContain(
      'read token',
    )
    const write = await app.inject({ method: 'POST', url: '/api/events', payload: event(0), headers: { authorization: 'Bearer r-secret' } })
    expect(write.statusCode).toBe(401)
    expect((await app.inject({ url: '/healthz' })).statusCode).toBe(200)
  })

  it('describes every route in /openapi.json', async () => {
    const { app } = await setup()
    const doc = (await app.inject({ url: '/openapi.json' })).json()
    expect(doc.openapi).toBe('3.1.0')
    for (const path of [
      '/api/events',
      '/api/events/batch',
      '/api/events/{node}/{seq}',
      '/api/heads',
      '/api/nodes',
      '/api/consumers/{name}',
      '/healthz',
      '/readyz',
      '/metrics',
    ]) {
      expect(Object.keys(doc.paths), path).toContain(path)
    }
    expect(doc.paths['/api/events'].post.requestBody.content['application/json'].schema.required).toEqual(['topic', 'kind', 'data'])
  })
})
