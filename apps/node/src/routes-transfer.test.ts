// GET /api/export and POST /api/import between two in-process servers over memory stores.
import { DurableLog, MemoryUpdateStore, memberList, NodeIdentity, type NodeId } from '@ylog/core'
import type { FastifyInstance } from 'fastify'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createMetrics } from './metrics.js'
import { buildServer } from './server.js'

interface Side {
  app: FastifyInstance
  durable: DurableLog
  identity: NodeIdentity
}

async function side(options: { members?: NodeId[]; identity?: NodeIdentity } = {}): Promise<Side> {
  const identity = options.identity ?? NodeIdentity.generate()
  const store = new MemoryUpdateStore()
  const membership = options.members === undefined ? undefined : memberList([identity.id, ...options.members])
  const durable = await DurableLog.open({ identity, store, ...(membership === undefined ? {} : { membership }) })
  const metrics = createMetrics(durable, { defaultMetrics: false })
  const app = buildServer({ durable, tables: store, identity, config: {}, metrics, logger: pino({ level: 'silent' }) })
  await app.ready()
  return { app, durable, identity }
}

const importBody = (payload: string) => ({
  method: 'POST' as const,
  url: '/api/import',
  headers: { 'content-type': 'application/x-ndjson' },
  payload,
})

let source: Side
let full: string

beforeAll(async () => {
  source = await side()
  for (let i = 0; i < 700; i++) await source.durable.append({ topic: i % 2 === 0 ? 'even' : 'odd', kind: 'event', data: { i } })
  full = (await source.app.inject({ url: '/api/export' })).body
})
afterAll(async () => {
  await source.app.close()
  await source.durable.close()
})

describe('GET /api/export', () => {
  it('streams every committed entry as a line with its signed bytes, in seq order', async () => {
    const r = await source.app.inject({ url: '/api/export' })
    expect(r.statusCode).toBe(200)
    expect(r.headers['content-type']).toContain('application/x-ndjson')
    const lines = r.body
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { node: string; seq: number; topic: string; bytes: string })
    expect(lines.map((l) => l.seq)).toEqual(Array.from({ length: 700 }, (_, i) => i))
    const bytes = source.durable.getBytes(source.identity.id, 5) as Uint8Array
    expect(Buffer.from(lines[5]?.bytes ?? '', 'base64').equals(Buffer.from(bytes))).toBe(true)
  })

  it('filters by topic, node, seq range and time; refuses malformed parameters', async () => {
    const lines = async (query: string) => (await source.app.inject({ url: `/api/export?${query}` })).body.split('\n').filter(Boolean)
    expect(await lines('topic=odd')).toHaveLength(350)
    expect(await lines(`node=${source.identity.id}&fromSeq=10&toSeq=19`)).toHaveLength(10)
    const at = source.durable.get(source.identity.id, 600)?.at as number
    expect((await lines(`since=${at}`)).length).toBeGreaterThanOrEqual(100)
    expect(await lines(`node=${'0'.repeat(64)}`)).toHaveLength(0)
    for (const bad of ['node=xyz', 'fromSeq=-1', 'kind=other', 'since=soon', 'topic=a%20b']) {
      const r = await source.app.inject({ url: `/api/export?${bad}` })
      expect(r.statusCode, bad).toBe(400)
      expect(r.json<{ error: { code: string } }>().error.code).toMatch(/BAD_/)
    }
  })
})

describe('POST /api/import', () => {
  it('imports an export as synced entries; a second import changes nothing', async () => {
    const target = await side()
    const first = await target.app.inject(importBody(full))
    expect(first.statusCode).toBe(200)
    expect(first.json()).toMatchObject({ imported: 700, present: 0, nodes: [{ node: source.identity.id, from: 0, to: 700 }] })
    expect(target.durable.heads().get(source.identity.id)).toEqual(source.durable.heads().get(source.identity.id))
    expect((await target.app.inject(importBody(full))).json()).toMatchObject({ imported: 0, present: 700 })
    // In pieces, continuing what is held: the second half after the first.
    const other = await side()
    const lines = full.trim().split('\n')
    expect((await other.app.inject(importBody(lines.slice(0, 300).join('\n')))).json()).toMatchObject({ imported: 300 })
    expect((await other.app.inject(importBody(lines.slice(250).join('\n')))).json()).toMatchObject({ imported: 400, present: 50 })
    for (const s of [target, other]) await s.app.close()
  })

  it('verifies everything before writing anything: a forged entry, a gap, a non-member, its own chain', async () => {
    const target = await side({ members: [] })
    const lines = full.trim().split('\n')
    const forged = lines.map((l, i) => (i === 400 ? l.replace(/"bytes":"(.)/, (_m, c: string) => `"bytes":"${c === 'A' ? 'B' : 'A'}`) : l))
    const refused = async (body: string, status: number, code: string) => {
      const r = await target.app.inject(importBody(body))
      expect([r.statusCode, r.json<{ error: { code: string } }>().error.code]).toEqual([status, code])
    }
    await refused(lines.join('\n'), 403, 'NOT_MEMBER')
    const open = await side()
    const answer = await open.app.inject(importBody(forged.join('\n')))
    expect(answer.statusCode).toBe(400)
    expect(open.durable.committedLength(source.identity.id)).toBe(0)
    // A gap inside the body is found while the body is checked, before anything of the log is looked at.
    await refused([...lines.slice(0, 10), ...lines.slice(11, 20)].join('\n'), 400, 'BROKEN_CHAIN')
    const gap = await open.app.inject(importBody(lines.slice(5, 20).join('\n')))
    expect(gap.json<{ error: { code: string } }>().error.code).toBe('BROKEN_CHAIN')
    expect((await source.app.inject(importBody(full))).json()).toMatchObject({ imported: 0, present: 700 })
    // The same key with an empty log: its signer would write those seqs again.
    const wiped = await side({ identity: source.identity })
    expect((await wiped.app.inject(importBody(full))).json<{ error: { code: string } }>().error.code).toBe('OWN_ENTRIES')
    await wiped.app.close()
    await refused('not json', 400, 'BAD_JSON')
    expect((await target.app.inject({ method: 'POST', url: '/api/import', payload: { a: 1 } })).statusCode).toBe(415)
    for (const s of [target, open]) await s.app.close()
  })

  it('takes the parts of one import sent side by side, whichever arrives first: a part waits for the one it continues', async () => {
    const target = await side()
    const lines = full.trim().split('\n')
    const parts = [lines.slice(0, 250), lines.slice(250, 500), lines.slice(500)].map((p) => p.join('\n'))
    // The last part first, then the others: each is applied once what it continues is in.
    const answers = await Promise.all([2, 1, 0].map((i) => target.app.inject(importBody(parts[i] as string))))
    expect(answers.map((a) => a.statusCode)).toEqual([200, 200, 200])
    expect(answers.map((a) => a.json<{ imported: number }>().imported)).toEqual([200, 250, 250])
    expect(target.durable.heads().get(source.identity.id)).toEqual(source.durable.heads().get(source.identity.id))
    // Parts sent side by side behind a refused one are refused too, without waiting for it.
    const third = await side()
    const forged = parts.map((p, i) => (i === 0 ? p.replace(/"bytes":"(.)/, (_m, c: string) => `"bytes":"${c === 'A' ? 'B' : 'A'}`) : p))
    const sent = Date.now()
    const refusedAll = await Promise.all([0, 1, 2].map((i) => third.app.inject(importBody(forged[i] as string))))
    expect(refusedAll.map((a) => a.statusCode)).toEqual([400, 400, 400])
    expect(Date.now() - sent).toBeLessThan(5_000)
    expect(third.durable.committedLength(source.identity.id)).toBe(0)
    await third.app.close()
    // Alone, a part that does not continue what is held is refused at once, not after a wait.
    const started = Date.now()
    const other = await side()
    expect((await other.app.inject(importBody(parts[1] as string))).json<{ error: { code: string } }>().error.code).toBe('BROKEN_CHAIN')
    expect(Date.now() - started).toBeLessThan(5_000)
    for (const s of [target, other]) await s.app.close()
  })

  it('is described in the OpenAPI document with operationIds, parameters and error responses', async () => {
    type Operation = { operationId: string; responses: Record<string, unknown> }
    const doc = (await source.app.inject({ url: '/openapi.json' })).json<{ paths: Record<string, Record<string, Operation>> }>()
    expect(doc.paths['/api/export']?.get?.operationId).toBe('exportEntries')
    expect(doc.paths['/api/import']?.post?.operationId).toBe('importEntries')
    const statuses = Object.keys(doc.paths['/api/import']?.post?.responses ?? {})
    expect(statuses).toEqual(expect.arrayContaining(['200', '400', '403', '409', '413']))
  })
})
