import { MAX_ENTRY_BYTES, type Entry } from '@ylog/core'
import { describe, expect, it } from 'vitest'
import type { ErrorBody } from './server.js'
import { event, post, serverHarness } from './server-testing.js'

const { setup } = serverHarness()

describe('POST /api/events', () => {
  it('answers 201 with node, seq, id and hash once committed; seqs are contiguous', async () => {
    const { app, identity, durable } = await setup()
    for (let i = 0; i < 3; i++) {
      const res = await post(app, event(i))
      expect(res.statusCode).toBe(201)
      const body = res.json()
      expect(body).toEqual({
        node: identity.id,
        seq: i,
        id: `${identity.id}:${i}`,
        hash: expect.stringMatching(/^[0-9a-f]{64}$/),
        at: expect.any(Number),
      })
      expect(res.headers.location).toBe(`/api/events/${identity.id}/${i}`)
      expect(durable.get(identity.id, i)?.hash).toBe(body.hash)
    }
    // Committed means the store has it: a fresh replay sees all three.
    expect((await durable.storeStats()).updates).toBeGreaterThan(0)
  })

  it('stores transitions and honours a client-supplied at', async () => {
    const { app, identity } = await setup()
    const data = { subject: 'story-7', from: 'backlog', to: 'coding', event: 'DepsMet' }
    const res = await post(app, { topic: 'pipeline', kind: 'transition', data, at: 1_700_000_000_000 })
    expect(res.statusCode).toBe(201)
    const got = await app.inject({ url: `/api/events/${identity.id}/0` })
    expect(got.json()).toMatchObject({ topic: 'pipeline', kind: 'transition', data, at: 1_700_000_000_000, seq: 0 })
  })

  it('gives 64 concurrent writers distinct, contiguous seqs, sharing commits', async () => {
    const { app, length } = await setup()
    const results = await Promise.all(Array.from({ length: 64 }, (_, i) => post(app, event(i))))
    expect(results.map((r) => r.statusCode)).toEqual(Array(64).fill(201))
    const seqs = results.map((r) => r.json().seq as number).sort((a, b) => a - b)
    expect(seqs).toEqual(Array.from({ length: 64 }, (_, i) => i))
    expect(length()).toBe(64)
    const metrics = (await app.inject({ url: '/metrics' })).body
    expect(metrics).toMatch(/^ylog_appends_total 64$/m)
    const commits = Number(/^ylog_commits_total (\d+)$/m.exec(metrics)?.[1])
    expect(commits).toBeGreaterThanOrEqual(1)
    expect(commits).toBeLessThan(64)
  })
})

describe('GET /api/events', () => {
  it('pages through everything exactly once with cursors', async () => {
    const { app } = await setup()
    for (let i = 0; i < 25; i++) expect((await post(app, event(i))).statusCode).toBe(201)
    const seen: Entry[] = []
    let after = ''
    let pages = 0
    for (;;) {
      const res = await app.inject({ url: `/api/events?limit=7${after === '' ? '' : `&after=${encodeURIComponent(after)}`}` })
      expect(res.statusCode).toBe(200)
      const { entries, next } = res.json() as { entries: Entry[]; next: string }
      expect(next).toMatch(/^c1\./)
      if (entries.length === 0) {
        expect(next).toBe(after)
        break
      }
      expect(entries.length).toBeLessThanOrEqual(7)
      seen.push(...entries)
      after = next
      pages++
    }
    expect(pages).toBe(4)
    expect(seen.map((e) => (e.data as { n: number }).n)).toEqual(Array.from({ length: 25 }, (_, i) => i))
    expect(new Set(seen.map((e) => e.seq)).size).toBe(25)
  })

  it('defaults to 100 entries from the start', async () => {
    const { app } = await setup()
    await Promise.all(Array.from({ length: 120 }, (_, i) => post(app, event(i))))
    const res = await app.inject({ url: '/api/events' })
    expect(res.json().entries).toHaveLength(100)
  })

  it('returns one entry by node and seq, and 404 with a message otherwise', async () => {
    const { app, identity } = await setup()
    await post(app, event(0))
    const res = await app.inject({ url: `/api/events/${identity.id}/0` })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toMatchObject({ node: identity.id, seq: 0, kind: 'event', data: { n: 0 } })
    const missing = await app.inject({ url: `/api/events/${identity.id}/1` })
    expect(missing.statusCode).toBe(404)
    expect(missing.json().error).toEqual({
      code: 'NOT_FOUND',
      message: `no entry ${identity.id}:1; that node's entries held here are seq 0-0`,
    })
    const stranger = await app.inject({ url: `/api/events/${'ab'.repeat(32)}/0` })
    expect(stranger.statusCode).toBe(404)
    expect(stranger.json().error.message).toContain('no entries from that node are held here')
  })
})

describe('client mistakes', () => {
  const json = { 'content-type': 'application/json' }
  const node = 'ab'.repeat(32)
  type Case = [
    name: string,
    request: { method?: 'GET' | 'POST'; url?: string; payload?: string | object; headers?: Record<string, string> },
    status: number,
    code: string,
    message: string,
  ]
  const cases: Case[] = [
    ['bad JSON', { payload: '{"topic": "a",', headers: json }, 400, 'BAD_JSON', 'request body is not valid JSON'],
    ['empty body', { payload: '', headers: json }, 400, 'BAD_JSON', 'request body is empty'],
    ['a JSON array', { payload: [1, 2] }, 400, 'BAD_REQUEST', 'body must be a JSON object, got an array'],
    [
      'not JSON at all',
      { payload: 'topic=a', headers: { 'content-type': 'text/plain' } },
      415,
      'UNSUPPORTED_MEDIA_TYPE',
      'Content-Type: application/json',
    ],
    [
      'unknown kind',
      { payload: { ...event(0), kind: 'note' } },
      400,
      'BAD_REQUEST',
      'body.kind must be one of "transition", "event", got "note"',
    ],
    [
      'gap kind',
      { payload: { topic: 'a', kind: 'gap', data: { stream: 's', from: 0, to: 1 } } },
      400,
      'BAD_REQUEST',
      'body.kind "gap" is not accepted from clients',
    ],
    ['bad topic', { payload: { ...event(0), topic: '-bad topic' } }, 400, 'BAD_TOPIC', 'has characters outside'],
    ['empty topic', { payload: { ...event(0), topic: '' } }, 400, 'BAD_TOPIC', 'topic must be a non-empty string'],
    ['huge topic', { payload: { ...event(0), topic: 'a'.repeat(5000) } }, 400, 'BAD_TOPIC', 'topic is 5000 characters; the limit is 128'],
    ['missing data', { payload: { topic: 'a', kind: 'event' } }, 400, 'BAD_REQUEST', 'body is missing the required field "data"'],
    ['missing topic', { payload: { kind: 'event', data: 1 } }, 400, 'BAD_REQUEST', 'body is missing the required field "topic"'],
    [
      'extra field',
      { payload: { ...event(0), seq: 5 } },
      400,
      'BAD_REQUEST',
      'body has an unknown field "seq"; allowed: topic, kind, data, time, at',
    ],
    ['topic of the wrong type', { payload: { ...event(0), topic: 5 } }, 400, 'BAD_REQUEST', 'body.topic must be a string, got number 5'],
    [
      'kind of the wrong type',
      { payload: { ...event(0), kind: ['event'] } },
      400,
      'BAD_REQUEST',
      'body.kind must be a string, got an array',
    ],
    ['at not an integer', { payload: { ...event(0), at: 1.5 } }, 400, 'BAD_REQUEST', 'body.at must be an integer, got number 1.5'],
    ['at as a string', { payload: { ...event(0), at: '1700000000000' } }, 400, 'BAD_REQUEST', 'body.at must be an integer'],
    ['negative at', { payload: { ...event(0), at: -1 } }, 400, 'BAD_TIME', 'at must be a non-negative integer of milliseconds'],
    [
      'incomplete transition',
      { payload: { topic: 'p', kind: 'transition', data: { subject: 's', from: 'a', to: 'b' } } },
      400,
      'BAD_DATA',
      'transition data.event is missing',
    ],
    [
      'unsafe integer in data',
      { payload: '{"topic":"a","kind":"event","data":{"n":12345678901234567890}}', headers: json },
      400,
      'BAD_DATA',
      'integers must lie within',
    ],
    [
      '__proto__ in data',
      { payload: '{"topic":"a","kind":"event","data":{"__proto__":{"x":1}}}', headers: json },
      400,
      'BAD_DATA',
      '"__proto__" key',
    ],
    [
      'entry over MAX_ENTRY_BYTES',
      { payload: { ...event(0), data: 'x'.repeat(MAX_ENTRY_BYTES) } },
      413,
      'ENTRY_TOO_LARGE',
      `the limit is ${MAX_ENTRY_BYTES}`,
    ],
    [
      'body over 1 MiB',
      { payload: { ...event(0), data: 'x'.repeat(1024 * 1024 + 10) } },
      413,
      'BODY_TOO_LARGE',
      'request body is larger than 1048576 bytes',
    ],
    ['bad cursor', { method: 'GET', url: '/api/events?after=nonsense' }, 400, 'BAD_CURSOR', 'cursor "nonsense" is invalid'],
    ['bad cursor body', { method: 'GET', url: '/api/events?after=c1.!!' }, 400, 'BAD_CURSOR', 'not base64url'],
    ['limit 0', { method: 'GET', url: '/api/events?limit=0' }, 400, 'BAD_ARGUMENT', 'limit "0" is out of range: use an integer 1-1000'],
    ['limit 5000', { method: 'GET', url: '/api/events?limit=5000' }, 400, 'BAD_ARGUMENT', 'limit "5000" is out of range'],
    ['negative limit', { method: 'GET', url: '/api/events?limit=-5' }, 400, 'BAD_ARGUMENT', 'limit "-5" is out of range'],
    [
      'limit not a number',
      { method: 'GET', url: '/api/events?limit=ten' },
      400,
      'BAD_ARGUMENT',
      'limit "ten" is not an integer: use an integer 1-1000',
    ],
    [
      'limit given twice',
      { method: 'GET', url: '/api/events?limit=1&limit=2' },
      400,
      'BAD_REQUEST',
      'query.limit must be a string, got an array',
    ],
    [
      'unknown query parameter',
      { method: 'GET', url: '/api/events?cursor=x' },
      400,
      'BAD_REQUEST',
      'query has an unknown field "cursor"; allowed: after, since, topic, kind, limit',
    ],
    [
      'seq not a number',
      { method: 'GET', url: `/api/events/${node}/first` },
      400,
      'BAD_ARGUMENT',
      'seq "first" is not an integer: use a sequence number',
    ],
    [
      'negative seq',
      { method: 'GET', url: `/api/events/${node}/-1` },
      400,
      'BAD_ARGUMENT',
      'seq "-1" is out of range: use a sequence number',
    ],
    [
      'non-hex node',
      { method: 'GET', url: `/api/events/${'zz'.repeat(32)}/0` },
      400,
      'BAD_ARGUMENT',
      'is not a node id: use 64 lowercase hex digits',
    ],
    ['short node', { method: 'GET', url: '/api/events/abc/0' }, 400, 'BAD_ARGUMENT', 'node "abc" is not a node id'],
    ['malformed URL escape', { method: 'GET', url: '/api/events/%zz/1' }, 400, 'BAD_URL', 'is not a valid url component'],
    ['no body at all', {}, 400, 'BAD_REQUEST', 'body must be a JSON object, got null'],
    ['unknown route', { method: 'GET', url: '/api/nope' }, 404, 'NOT_FOUND', 'no route GET /api/nope'],
  ]

  it.each(cases)('%s', async (_name, request, status, code, message) => {
    const { app, length, durable } = await setup()
    expect((await post(app, event(0))).statusCode).toBe(201)
    const before = (await durable.storeStats()).updates
    const res = await app.inject({
      method: request.method ?? 'POST',
      url: request.url ?? '/api/events',
      payload: request.payload,
      headers: request.headers,
    })
    expect(res.statusCode).toBe(status)
    const body = res.json() as ErrorBody
    expect(body.error.code).toBe(code)
    expect(body.error.message).toContain(message)
    await durable.flush()
    expect(length()).toBe(1)
    expect((await durable.storeStats()).updates).toBe(before)
  })

  it('covers at least 15 kinds of mistake', () => {
    expect(cases.length).toBeGreaterThanOrEqual(15)
  })
})

describe('write token', () => {
  it('requires the bearer token on POST and leaves reads open', async () => {
    const { app, length } = await setup({ writeToken: 's3cret-token' })
    const none = await post(app, event(0))
    expect(none.statusCode).toBe(401)
    expect(none.headers['www-authenticate']).toBe('Bearer realm="ylog"')
    expect(none.json().error).toEqual({ code: 'UNAUTHORIZED', message: 'writes need the header "Authorization: Bearer <write token>"' })
    const wrong = await post(app, event(0), { authorization: 'Bearer s3cret-tokem' })
    expect(wrong.statusCode).toBe(401)
    expect(wrong.json().error.message).toBe('the write token is wrong')
    expect((await post(app, event(0), { authorization: 'Basic s3cret-token' })).statusCode).toBe(401)
    expect((await post(app, event(0), { authorization: 'Bearer s3cret-token-and-more' })).statusCode).toBe(401)
    expect(length()).toBe(0)
    const ok = await post(app, event(0), { authorization: 'Bearer s3cret-token' })
    expect(ok.statusCode).toBe(201)
    expect((await app.inject({ url: '/api/events' })).statusCode).toBe(200)
    expect((await app.inject({ url: '/api/heads' })).statusCode).toBe(200)
  })

  it('checks the token before reading the body', async () => {
    const { app } = await setup({ writeToken: 't' })
    const res = await post(app, '{broken', { 'content-type': 'application/json' })
    expect(res.statusCode).toBe(401)
  })
})
