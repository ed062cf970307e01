// What the server does for clients, seen from a real node process (one, `--store memory`, shared by the file):
// 413 rather than EPIPE for fetch, 405 with Allow, topics, consumers (null, rewind), onLag=close, the memory store.
import { YlogClient } from '@ylog/client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startNode, tempDir, type RunningNode } from './support/node-process.js'
import { refusal } from './support/refusal.js'

let node: RunningNode
let client: YlogClient

beforeAll(async () => {
  node = await startNode(['--data', tempDir(), '--store', 'memory'])
  client = new YlogClient({ url: node.url })
})
afterAll(async () => {
  await node.stop()
})

describe('a node for clients', () => {
  it('says in its ready line and /readyz that a memory store keeps nothing across a restart', async () => {
    expect(node.logs.find((r) => r.msg === 'ready')).toMatchObject({ store: 'memory', note: 'nothing survives a restart' })
    expect(await (await fetch(`${node.url}/readyz`)).json()).toMatchObject({ ok: true, store: 'memory' })
  })

  it('answers 413 to fetch for bodies of 2-12 MiB, streamed or not, instead of a broken pipe', async () => {
    for (const mib of [2, 5, 12]) {
      for (const streamed of [false, true]) {
        const body = JSON.stringify({ topic: 't', kind: 'event', data: 'x'.repeat(mib << 20) })
        const init = {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: streamed ? new Blob([body]).stream() : body,
          duplex: 'half',
        }
        const res = await fetch(`${node.url}/api/events`, init as RequestInit)
        expect(`${mib} MiB ${streamed ? 'streamed' : 'whole'}: ${res.status}`).toBe(`${mib} MiB ${streamed ? 'streamed' : 'whole'}: 413`)
        expect(((await res.json()) as { error: { code: string } }).error.code).toBe('BODY_TOO_LARGE')
      }
    }
    // The connection stays usable for the next request.
    expect((await client.append({ topic: 'after.413', kind: 'event', data: 1 })).seq).toBeGreaterThanOrEqual(0)
  })

  it('answers 405 with Allow for a method a path does not take, 404 for a path that does not exist', async () => {
    const res = await fetch(`${node.url}/api/events`, { method: 'DELETE' })
    expect(res.status).toBe(405)
    expect(res.headers.get('allow')).toBe('GET, HEAD, POST')
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('METHOD_NOT_ALLOWED')
    const entry = await fetch(`${node.url}/api/events/${node.node}/0`, { method: 'PUT' })
    expect([entry.status, entry.headers.get('allow')]).toEqual([405, 'GET, HEAD'])
    expect((await fetch(`${node.url}/api/nope`, { method: 'DELETE' })).status).toBe(404)
  })

  it('lists topics with their counts and newest entries, counting commits after the first request', async () => {
    await client.appendBatch([1, 2, 3].map((n) => ({ topic: 'topics.a', kind: 'event' as const, data: n })))
    const before = (await client.topics()).find((t) => t.topic === 'topics.a')
    expect(before?.count).toBe(3)
    const last = await client.append({ topic: 'topics.a', kind: 'event', data: 4 })
    await client.append({ topic: 'topics.b', kind: 'event', data: 5 })
    const topics = await client.topics()
    expect(topics.find((t) => t.topic === 'topics.a')).toEqual({
      topic: 'topics.a',
      count: 4,
      latest: { id: last.id, node: last.node, seq: last.seq, at: last.at },
    })
    expect(topics.map((t) => t.topic)).toEqual([...topics.map((t) => t.topic)].sort())
  })

  it('shows a consumer never acked as cursor null, and moves one back only when asked to rewind', async () => {
    expect(await client.consumer('never-acked')).toMatchObject({ cursor: null, ackedAt: null })
    const first = await client.read({ limit: 1 })
    const all = await client.read({ limit: 1000 })
    await client.ack('rewinder', all.next)
    expect((await refusal(client.ack('rewinder', first.next))).code).toBe('CURSOR_BACKWARDS')
    const rewound = await client.ack('rewinder', first.next, { rewind: true })
    expect(rewound.cursor).toBe(first.next)
    expect(rewound.behind).toBe((await client.heads()).heads.reduce((n, h) => n + h.length, 0) - 1)
  })

  it('reads the newest entries with last=, pages back with before=, and goes on live from next', async () => {
    const written = await client.appendBatch(Array.from({ length: 7 }, (_, i) => ({ topic: 'tail.t', kind: 'event' as const, data: i })))
    const last = await client.last(3, { topic: 'tail.t' })
    expect(last.entries.map((e) => e.data)).toEqual([4, 5, 6])
    const back = await client.before(last.prev as string, { topic: 'tail.t', limit: 3 })
    expect(back.entries.map((e) => e.data)).toEqual([1, 2, 3])
    const start = await client.before(back.prev as string, { topic: 'tail.t', limit: 3 })
    expect([start.entries.map((e) => e.data), start.prev]).toEqual([[0], null])
    const more = await client.append({ topic: 'tail.t', kind: 'event', data: 7 })
    expect((await client.read({ topic: 'tail.t', after: last.next })).entries.map((e) => e.seq)).toEqual([more.seq])
    expect(written).toHaveLength(7)
    expect((await refusal(client.read({ after: last.next, last: 2 } as never))).code).toBe('BAD_ARGUMENT')
    expect((await refusal(client.before('p1.nonsense'))).code).toBe('BAD_ARGUMENT')
  })

  it('ends a lagging stream with LAGGED under onLag=close instead of skipping entries', async () => {
    const controller = new AbortController()
    const res = await fetch(`${node.url}/api/events/stream?after=now&topic=lag&buffer=1&onLag=close`, { signal: controller.signal })
    expect(res.status).toBe(200)
    // Unread, the stream backs up: the socket fills, then the one-entry buffer overflows.
    const data = 'y'.repeat(8000)
    for (let i = 0; i < 10; i++)
      await client.appendBatch(Array.from({ length: 100 }, () => ({ topic: 'lag', kind: 'event' as const, data })))
    const text = await res.text()
    expect(text).toMatch(/^: ylog stream after=c1\.\S+\n\n/)
    expect(text).toMatch(/event: error\ndata: \{"error":\{"code":"LAGGED","message":"this stream fell behind/)
    expect(text).not.toContain('event: gap')
    controller.abort()
  })
})
