// A generated flood of malformed requests: every one gets a 4xx with a
// message, none a 5xx, and nothing is written. Seeded (YLOG_FUZZ_SEED,
// YLOG_FUZZ_REQUESTS) so a failure can be replayed.
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DurableLog, NodeIdentity } from '@ylog/core'
import { seededRandom } from '@ylog/core/testing'
import { SqliteUpdateStore } from '@ylog/sqlite'
import type { InjectOptions } from 'fastify'
import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import { createMetrics } from './metrics.js'
import { buildServer } from './server.js'

const SEED = Number(process.env.YLOG_FUZZ_SEED ?? 20261123)
const REQUESTS = Number(process.env.YLOG_FUZZ_REQUESTS ?? 1200)

type Gen = (r: Rand) => InjectOptions

class Rand {
  readonly next: () => number
  constructor(seed: number) {
    this.next = seededRandom(seed)
  }
  int(n: number): number {
    return Math.floor(this.next() * n)
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T
  }
  text(max: number): string {
    const chars = 'abc XYZ019_-./:?#%&=+\\"\'{}[]<>\u0000\u00e9\u{1f600}\n\t'
    return Array.from({ length: this.int(max) + 1 }, () => this.pick([...chars])).join('')
  }
}

const json = (payload: unknown): Pick<InjectOptions, 'payload' | 'headers'> => ({
  payload: JSON.stringify(payload),
  headers: { 'content-type': 'application/json' },
})

// Values that are wrong for the field they are put in.
const wrongTypes = [null, 5, -1, 1.5, true, [], {}, '', 'x'.repeat(300), [1, 2], { a: 1 }, 1e308, -0]
const badTopics = ['', ' ', 'a b', '/lead', 'x'.repeat(300), 'tab\t', 'emoji\u{1f600}', 'semi;colon']
const badCursors = ['x', 'c1.', 'c1.!!!', 'c2.gA', `c1.${'A'.repeat(50)}`, 'c1.oWFhAQ', 'c1.gYKAAQ', '%00', 'c1.gA%20']
const badLimits = ['0', '-1', '1001', '1e3', 'ten', '99999999999999999999', '', ' 5', '0x10', '2.5']

const generators: Gen[] = [
  // Bodies that are not JSON at all.
  (r) => ({
    method: 'POST',
    url: '/api/events',
    payload: r.pick(['{', '{"topic":', 'nul', '[1,]', "{'a':1}", r.text(40), '\u0000']),
    headers: { 'content-type': 'application/json' },
  }),
  (r) => ({
    method: 'POST',
    url: '/api/events/batch',
    payload: r.pick(['[', '[{]', '{"entries":', r.text(30)]),
    headers: { 'content-type': 'application/json' },
  }),
  // Wrong content types and empty bodies.
  (r) => ({
    method: 'POST',
    url: r.pick(['/api/events', '/api/events/batch']),
    payload: '{"topic":"t","kind":"event","data":1}',
    headers: {
      'content-type': r.pick(['text/plain', 'application/xml', 'multipart/form-data; boundary=x', 'application/x-www-form-urlencoded']),
    },
  }),
  (r) => ({
    method: 'POST',
    url: r.pick(['/api/events', '/api/events/batch']),
    payload: r.pick(['', '   ', '\n']),
    headers: { 'content-type': 'application/json' },
  }),
  // Well-formed JSON of the wrong shape.
  (r) => ({ method: 'POST', url: '/api/events', ...json(r.pick(wrongTypes)) }),
  (r) => ({ method: 'POST', url: '/api/events', ...json({ topic: r.pick(wrongTypes), kind: 'event', data: 1 }) }),
  (r) => ({ method: 'POST', url: '/api/events', ...json({ topic: r.pick(badTopics), kind: 'event', data: 1 }) }),
  (r) => ({ method: 'POST', url: '/api/events', ...json({ topic: 't', kind: r.pick([...wrongTypes, 'gap', 'EVENT', 'note']), data: 1 }) }),
  (r) => ({
    method: 'POST',
    url: '/api/events',
    ...json({
      topic: 't',
      kind: 'transition',
      data: r.pick([...wrongTypes, { subject: 's' }, { subject: 1, from: 'a', to: 'b', event: 'e' }]),
    }),
  }),
  (r) => ({
    method: 'POST',
    url: '/api/events',
    ...json({ topic: 't', kind: 'event', data: 1, at: r.pick([-1, 1.5, '5', 2 ** 60, null]) }),
  }),
  (r) => ({
    method: 'POST',
    url: '/api/events',
    ...json({ topic: 't', kind: 'event', data: 1, [r.pick(['extra', 'seq', 'node', 'sig', '__proto__x'])]: 1 }),
  }),
  (r) => {
    const body: Record<string, unknown> = { topic: 't', kind: 'event', data: 1 }
    delete body[r.pick(['topic', 'kind', 'data'])]
    return { method: 'POST', url: '/api/events', ...json(body) }
  },
  // Huge values: an entry over 64 KiB, a body over 1 MiB.
  (r) => ({ method: 'POST', url: '/api/events', ...json({ topic: 't', kind: 'event', data: 'x'.repeat(70_000 + r.int(100_000)) }) }),
  (r) => ({
    method: 'POST',
    url: r.pick(['/api/events', '/api/events/batch']),
    ...json({ topic: 't', kind: 'event', data: 'x'.repeat(1_100_000 + r.int(1000)) }),
  }),
  // Batches: empty, too long, one bad element, not an array.
  (r) => ({ method: 'POST', url: '/api/events/batch', ...json(r.pick([[], {}, 'x', 5, null])) }),
  (r) => ({
    method: 'POST',
    url: '/api/events/batch',
    ...json([
      ...Array.from({ length: r.int(5) }, (_, i) => ({ topic: 't', kind: 'event', data: i })),
      { topic: r.pick(badTopics), kind: 'event', data: 1 },
    ]),
  }),
  (r) => ({
    method: 'POST',
    url: '/api/events/batch',
    ...json(Array.from({ length: 1001 + r.int(10) }, (_, i) => ({ topic: 't', kind: 'event', data: i }))),
  }),
  // Bad idempotency keys on otherwise bad requests too (the key must not make them valid).
  (r) => ({
    method: 'POST',
    url: '/api/events',
    payload: JSON.stringify({ topic: 't', kind: 'event', data: 1 }),
    headers: { 'content-type': 'application/json', 'idempotency-key': r.pick(['has space', 'x'.repeat(256), 'tab\tkey', 'é']) },
  }),
  // Reads with bad parameters.
  (r) => ({ method: 'GET', url: `/api/events?after=${encodeURIComponent(r.pick(badCursors))}` }),
  (r) => ({ method: 'GET', url: `/api/events?limit=${encodeURIComponent(r.pick(badLimits))}` }),
  (r) => ({
    method: 'GET',
    url: `/api/events?since=${encodeURIComponent(r.pick(['-1', 'yesterday', '1.5', '99999999999999999999', '']))}`,
  }),
  (r) => ({ method: 'GET', url: `/api/events?kind=${encodeURIComponent(r.pick(['note', 'EVENT', '', 'gap,event']))}` }),
  (r) => ({ method: 'GET', url: `/api/events?topic=${encodeURIComponent(r.pick(badTopics))}` }),
  (r) => ({ method: 'GET', url: `/api/events?${r.pick(['cursor', 'offset', 'page', 'node', 'x'])}=${encodeURIComponent(r.text(10))}` }),
  (r) => ({
    method: 'GET',
    url: `/api/events/${r.pick(['abc', '0'.repeat(63), 'G'.repeat(64), '%zz', '..'])}/${r.pick(['0', '-1', 'x', '1.5'])}`,
  }),
  (r) => ({ method: 'GET', url: `/api/events/${'a'.repeat(64)}/${r.pick(['-1', 'x', '1.5', '1e3', '99999999999999999999'])}` }),
  // Consumers: bad names, bad acks.
  (r) => ({
    method: r.pick(['GET', 'PUT']),
    url: `/api/consumers/${encodeURIComponent(r.pick(['bad name', 'x'.repeat(200), 'semi;colon', 'é']))}`,
    ...json({ cursor: 'c1.gA' }),
  }),
  (r) => ({
    method: 'PUT',
    url: '/api/consumers/fuzz',
    ...json(r.pick([{}, { cursor: 5 }, { cursor: r.pick(badCursors) }, { cursor: 'c1.gA', extra: 1 }, [], 'c1.gA'])),
  }),
  // Unknown routes and methods.
  (r) => ({ method: r.pick(['DELETE', 'PATCH', 'PUT']), url: r.pick(['/api/events', '/api/heads', '/api/events/batch']) }),
  (r) => ({ method: 'GET', url: `/${r.pick(['api', 'api/event', 'api/events/x', 'admin', '%c0%ae'])}` }),
]

describe('malformed requests', () => {
  it(`answers ${REQUESTS} generated malformed requests with a 4xx and writes nothing (seed ${SEED})`, async () => {
    const identity = NodeIdentity.generate()
    const store = SqliteUpdateStore.open(join(mkdtempSync(join(tmpdir(), 'ylog-fuzz-')), 'ylog.db'), { durability: 'normal' })
    const durable = await DurableLog.open({ identity, store })
    const app = buildServer({
      durable,
      tables: store,
      identity,
      config: {},
      metrics: createMetrics(durable, { defaultMetrics: false }),
      logger: pino({ level: 'silent' }),
    })
    await app.ready()
    const r = new Rand(SEED)
    const statuses = new Map<number, number>()
    try {
      for (let i = 0; i < REQUESTS; i++) {
        const request = (generators[i % generators.length] as Gen)(r)
        const res = await app.inject(request)
        statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1)
        const describe =
          `request ${i} (seed ${SEED}): ${request.method} ${String(request.url).slice(0, 120)} → ` +
          `${res.statusCode} ${res.body.slice(0, 200)}`
        expect(res.statusCode >= 400 && res.statusCode < 500, describe).toBe(true)
        const body = res.json() as { error?: { code?: unknown; message?: unknown } }
        expect(typeof body.error?.code, describe).toBe('string')
        expect(String(body.error?.message).length, describe).toBeGreaterThan(10)
      }
      expect(durable.committedLength(identity.id)).toBe(0)
      expect((await store.stats()).updates).toBe(0)
      expect(await store.readConsumer('fuzz')).toBeUndefined()
      expect((await app.inject({ url: '/readyz' })).statusCode).toBe(200)
      // And the node still writes.
      expect((await app.inject({ method: 'POST', url: '/api/events', ...json({ topic: 't', kind: 'event', data: 1 }) })).statusCode).toBe(
        201,
      )
    } finally {
      await app.close()
      await durable.close()
    }
    expect([...statuses.keys()].every((s) => s >= 400 && s < 500)).toBe(true)
  }, 120_000)
})
