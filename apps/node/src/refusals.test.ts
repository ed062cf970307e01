import { mkdtempSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MAX_ENTRY_BYTES } from '@ylog/core'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from './config.js'
import { startNode, type NodeHandle } from './node.js'

// The whole node (ingest queue, gap counter, metrics), since a refused request once wrote a gap entry through the queue.
let node: NodeHandle
const json = { 'content-type': 'application/json' }
const event = { topic: 'agents', kind: 'event', data: { n: 1 } }

beforeAll(async () => {
  const data = mkdtempSync(join(tmpdir(), 'ylog-refusals-'))
  node = await startNode(loadConfig(['--data', data, '--port', '0', '--durability', 'normal'], {}), pino({ level: 'silent' }))
})
afterAll(async () => node.close())

/** Sends bytes as they are: fetch would percent-encode what Node's HTTP parser refuses. */
function raw(request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(node.port, '127.0.0.1', () => socket.end(request))
    let text = ''
    socket.on('data', (chunk) => (text += chunk.toString('utf8')))
    socket.on('end', () => resolve(text))
    socket.on('error', reject)
  })
}

async function metric(name: string): Promise<number> {
  const text = await (await fetch(`${node.url}/metrics`)).text()
  const line = text.split('\n').find((l) => l.startsWith(`${name} `))
  return Number(line?.split(' ')[1] ?? Number.NaN)
}

describe('a refused request', () => {
  const now = Date.now()
  const mistakes: Array<[string, RequestInit & { path?: string }, number, string, RegExp]> = [
    [
      'an entry over 64 KiB',
      { body: JSON.stringify({ ...event, data: 'x'.repeat(MAX_ENTRY_BYTES) }) },
      413,
      'ENTRY_TOO_LARGE',
      /the limit is 65536/,
    ],
    [
      'at in the year 5138',
      { body: JSON.stringify({ ...event, at: 99_999_999_999_999 }) },
      400,
      'BAD_TIME',
      /ahead of this node's clock .* the limit is 60000 ms/,
    ],
    [
      'at in seconds',
      { body: JSON.stringify({ ...event, at: Math.floor(now / 1000) }) },
      400,
      'BAD_TIME',
      /looks like seconds since the epoch/,
    ],
    ['an event time an hour ahead', { body: JSON.stringify({ ...event, time: now + 3_600_000 }) }, 400, 'BAD_TIME', /^time \d+ .* ahead/],
    [
      'a batch with one entry too large',
      { path: '/api/events/batch', body: JSON.stringify([event, { ...event, data: 'x'.repeat(MAX_ENTRY_BYTES) }]) },
      413,
      'ENTRY_TOO_LARGE',
      /^batch entry 1: /,
    ],
    [
      'a transition missing a field',
      { body: JSON.stringify({ topic: 'p', kind: 'transition', data: { subject: 's', to: 'b', event: 'e' } }) },
      400,
      'BAD_DATA',
      /transition data.from is missing/,
    ],
    ['a bad topic', { body: JSON.stringify({ ...event, topic: 'no spaces' }) }, 400, 'BAD_TOPIC', /characters outside/],
    ['broken JSON', { body: '{"topic":' }, 400, 'BAD_JSON', /not valid JSON/],
    [
      'text instead of JSON',
      { body: 'hello', headers: { 'content-type': 'text/plain' } },
      415,
      'UNSUPPORTED_MEDIA_TYPE',
      /application\/json/,
    ],
    [
      'QUERY without a content type',
      { method: 'QUERY', path: '/api/events/0/0', body: undefined, headers: {} },
      400,
      'BAD_REQUEST',
      /QUERY/,
    ],
    [
      'a gap from a client',
      { body: JSON.stringify({ topic: 't', kind: 'gap', data: { stream: 's', from: 0, to: 1 } }) },
      400,
      'BAD_REQUEST',
      /not accepted from clients/,
    ],
  ]

  it.each(mistakes)(
    '%s answers {"error":{code,message}} and writes nothing, no gap, no drop',
    async (_name, init, status, code, message) => {
      const before = await (await fetch(`${node.url}/api/heads`)).json()
      const res = await fetch(`${node.url}${init.path ?? '/api/events'}`, { method: 'POST', headers: json, ...init })
      expect(res.status).toBe(status)
      const body = (await res.json()) as { error: { code: string; message: string } }
      expect(Object.keys(body)).toEqual(['error'])
      expect(Object.keys(body.error).sort()).toEqual(['code', 'message'])
      expect(body.error.code).toBe(code)
      expect(body.error.message).toMatch(message)
      expect(await (await fetch(`${node.url}/api/heads`)).json()).toEqual(before)
      expect(await metric('ylog_ingest_dropped_total')).toBe(0)
      expect(await metric('ylog_gaps_total')).toBe(0)
    },
  )

  it('a raw non-ASCII cursor (pasted with its ellipsis) gets the same error shape', async () => {
    const response = await raw('GET /api/events?after=c1.gYJY\u2026 HTTP/1.1\r\nHost: x\r\n\r\n')
    expect(response).toMatch(/^HTTP\/1.1 400 /)
    const body = JSON.parse(response.slice(response.indexOf('\r\n\r\n') + 4)) as { error: { code: string; message: string } }
    expect(body.error).toEqual({ code: 'BAD_REQUEST', message: expect.stringMatching(/percent-encode characters outside ASCII/) })
  })

  it('no fastify code reaches a client', async () => {
    const res = await fetch(`${node.url}/api/events/0/0`, { method: 'QUERY' })
    const body = (await res.json()) as { error: { code: string } }
    expect(body.error.code).not.toMatch(/^FST_/)
  })
})

describe('an accepted append', () => {
  it('answers the at and the event time it stored; an old event time is kept as given', async () => {
    const time = Date.now() - 7 * 86_400_000
    const res = await fetch(`${node.url}/api/events`, { method: 'POST', headers: json, body: JSON.stringify({ ...event, time }) })
    expect(res.status).toBe(201)
    const receipt = (await res.json()) as { node: string; seq: number; at: number; time: number }
    expect(receipt.time).toBe(time)
    expect(Math.abs(receipt.at - Date.now())).toBeLessThan(60_000)
    const stored = (await (await fetch(`${node.url}/api/events/${receipt.node}/${receipt.seq}`)).json()) as { at: number; time: number }
    expect(stored).toMatchObject({ at: receipt.at, time })
    const plain = (await (
      await fetch(`${node.url}/api/events`, { method: 'POST', headers: json, body: JSON.stringify(event) })
    ).json()) as object
    expect(plain).toHaveProperty('at')
    expect(plain).not.toHaveProperty('time')
  })
})
