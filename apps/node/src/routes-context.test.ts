// GET /api/context over a real SQLite store: JSON and text answers, parameters, OpenAPI.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DurableLog, NodeIdentity } from '@ylog/core'
import { SqliteUpdateStore } from '@ylog/sqlite'
import type { FastifyInstance } from 'fastify'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createMetrics } from './metrics.js'
import { buildServer } from './server.js'

let app: FastifyInstance
let durable: DurableLog
let dir: string

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ylog-context-'))
  const store = SqliteUpdateStore.open(join(dir, 'ylog.db'), { durability: 'normal' })
  let now = Date.UTC(2025, 10, 23, 10)
  durable = await DurableLog.open({ identity: NodeIdentity.fromSeed(new Uint8Array(32).fill(7)), store, now: () => (now += 1000) })
  for (let i = 0; i < 40; i++) {
    if (i === 3) await durable.append({ topic: 'pipeline', kind: 'gap', data: { stream: 'feeder', from: 3, to: 5 } })
    await durable.append({
      topic: i % 2 ? 'pipeline' : 'agents',
      kind: 'transition',
      data: { subject: `story-${i % 4}`, from: 'backlog', to: 'coding', event: 'DepsMet' },
    })
  }
  const metrics = createMetrics(durable, { defaultMetrics: false })
  app = buildServer({ durable, tables: store, identity: NodeIdentity.generate(), config: {}, metrics, logger: pino({ level: 'silent' }) })
  await app.ready()
})

afterAll(async () => {
  await app.close()
  await durable.close()
  rmSync(dir, { recursive: true, force: true })
})

describe('GET /api/context', () => {
  it('answers {text, tokens, manifest} within the budget, naming the gap', async () => {
    const r = await app.inject({ url: '/api/context?budget=300' })
    expect(r.statusCode).toBe(200)
    const body = r.json<{
      text: string
      tokens: number
      manifest: { budget: number; counts: { dropped: number; omitted: number }; nodes: Array<{ omitted: unknown[] }> }
    }>()
    expect(body.tokens).toBeLessThanOrEqual(300)
    expect(body.text).toContain('events between 3 and 5 were dropped')
    expect(body.manifest).toMatchObject({ budget: 300, tokenizer: 'o200k_base', counts: { dropped: 1 } })
    expect(body.manifest.counts.omitted).toBeGreaterThan(0)
    expect(body.manifest.nodes[0]?.omitted.length).toBeGreaterThan(0)
  })

  it('answers the text alone for Accept: text/plain, and filters by topic, kind and subject', async () => {
    const r = await app.inject({
      url: '/api/context?subject=story-1&topic=pipeline&kind=transition&format=markdown',
      headers: { accept: 'text/plain' },
    })
    expect(r.statusCode).toBe(200)
    expect(r.headers['content-type']).toMatch(/^text\/plain/)
    expect(r.body).toMatch(/^## Missing from this context:/)
    expect(r.body.match(/story-1:/g)).toHaveLength(10)
    expect(r.body).not.toContain('story-2')
  })

  it.each([
    ['budget=0', /^budget "0" is out of range/],
    ['budget=lots', /^budget "lots" is not an integer/],
    ['encoding=o300k', /^encoding "o300k" is unknown; known: o200k_base, o200k_harmony, cl100k_base/],
    ['kind=gap', /^kind "gap" is not one of transition, event/],
    ['order=random', /^order "random" is not one of time, node/],
    ['format=xml', /^format "xml" is not one of text, markdown, jsonl/],
    ['node=abc', /^node "abc" is not a node id/],
    ['since=yesterday', /^since "yesterday" is not an integer/],
    ['topic=bad%20topic', /topic/],
    ['budget=5', /^budget: 5 tokens do not hold the lines that say what is missing/],
    ['limit=5', /limit/],
  ])('refuses %s with a 400 naming the parameter', async (query, message) => {
    const r = await app.inject({ url: `/api/context?${query}` })
    expect(r.statusCode).toBe(400)
    expect(r.json<{ error: { message: string } }>().error.message).toMatch(message)
  })

  it('is described in the OpenAPI document, request and response', async () => {
    const doc = (await app.inject({ url: '/openapi.json' })).json<{
      paths: Record<
        string,
        {
          get: {
            parameters: Array<{ name: string }>
            responses: Record<string, { content: Record<string, { schema: { properties?: Record<string, unknown> } }> }>
          }
        }
      >
    }>()
    const get = doc.paths['/api/context']?.get
    expect(get?.parameters.map((p) => p.name).sort()).toEqual([
      'budget',
      'encoding',
      'format',
      'kind',
      'maxEntryTokens',
      'node',
      'order',
      'since',
      'subject',
      'topic',
      'until',
    ])
    expect(Object.keys(get?.responses['200']?.content['application/json']?.schema.properties ?? {})).toEqual(['text', 'tokens', 'manifest'])
    expect(get?.responses['200']?.content['text/plain']).toBeDefined()
    expect(get?.responses['400']).toBeDefined()
  })
})
