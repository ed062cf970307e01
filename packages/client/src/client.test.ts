import { describe, expect, it } from 'vitest'
import { isTransient, YlogClient, YlogClientError } from './index.js'

/** A fetch that answers each call with the next of `answers`, recording the requests. */
function fakeFetch(answers: Array<Response | Error>): {
  fetch: typeof fetch
  requests: Array<{ url: string; init: RequestInit | undefined }>
} {
  const requests: Array<{ url: string; init: RequestInit | undefined }> = []
  const fetch = (async (url: string | URL | Request, init?: RequestInit) => {
    requests.push({ url: String(url), init })
    const answer = answers.shift()
    if (answer === undefined) throw new Error('no more answers')
    if (answer instanceof Error) throw answer
    return answer
  }) as typeof globalThis.fetch
  return { fetch, requests }
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}): Response =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } })

const sse = (text: string): Response => new Response(text, { status: 200, headers: { 'content-type': 'text/event-stream' } })

async function failure(promise: Promise<unknown>): Promise<YlogClientError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  if (!(err instanceof YlogClientError)) throw new Error(`expected a YlogClientError, got ${String(err)}`)
  return err
}

describe('YlogClient errors', () => {
  it('carries the node code, status and message; isTransient only where a retry can help', async () => {
    const cases: Array<[Response | Error, string, number | undefined, boolean]> = [
      [json(400, { error: { code: 'BAD_TOPIC', message: 'bad topic' } }), 'BAD_TOPIC', 400, false],
      [json(409, { error: { code: 'IDEMPOTENCY_CONFLICT', message: 'used' } }), 'IDEMPOTENCY_CONFLICT', 409, false],
      [json(413, { error: { code: 'BODY_TOO_LARGE', message: 'big' } }), 'BODY_TOO_LARGE', 413, false],
      [json(401, { error: { code: 'UNAUTHORIZED', message: 'token' } }), 'UNAUTHORIZED', 401, false],
      [json(503, { error: { code: 'INGEST_FULL', message: 'full' } }), 'INGEST_FULL', 503, true],
      [json(503, { error: { code: 'CLOSED', message: 'closing' } }), 'CLOSED', 503, true],
      [json(503, { error: { code: 'STORE_FAILED', message: 'disk' } }), 'STORE_FAILED', 503, true],
      [json(408, { error: { code: 'REQUEST_TIMEOUT', message: 'slow' } }), 'REQUEST_TIMEOUT', 408, true],
      [json(429, { error: { code: 'BAD_REQUEST', message: 'slow down' } }, { 'retry-after': '2' }), 'BAD_REQUEST', 429, true],
      [json(429, { error: { code: 'BAD_REQUEST', message: 'slow down' } }), 'BAD_REQUEST', 429, false],
      [new Response('<html>bad gateway</html>', { status: 502 }), 'NETWORK', 502, true],
      [json(418, { error: { code: 'NEW_CODE', message: 'from a newer node' } }), 'BAD_RESPONSE', 418, false],
      [Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } }), 'NETWORK', undefined, true],
    ]
    for (const [answer, code, status, transient] of cases) {
      const client = new YlogClient({ url: 'http://node.test', fetch: fakeFetch([answer]).fetch })
      const err = await failure(client.heads())
      expect({ code: err.code, status: err.status, transient: isTransient(err) }).toEqual({ code, status, transient })
    }
    expect(isTransient(new Error('not ours'))).toBe(false)
  })

  it('names the node and says in words why it was not reached', async () => {
    const refused = Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } })
    const odd = Object.assign(new TypeError('fetch failed'), { cause: { code: 'EWHATEVER' } })
    const client = new YlogClient({ url: 'http://node.test', fetch: fakeFetch([refused, odd]).fetch })
    expect((await failure(client.heads())).message).toBe(
      'GET /api/heads at http://node.test: connection refused (is a node running there?)',
    )
    expect((await failure(client.heads())).message).toBe('GET /api/heads at http://node.test: EWHATEVER')
  })

  it('keeps the Retry-After wait and an unknown code in the message', async () => {
    const client = new YlogClient({
      url: 'http://node.test',
      fetch: fakeFetch([json(429, {}, { 'retry-after': '3' }), json(418, { error: { code: 'NEW_CODE', message: 'later' } })]).fetch,
    })
    expect((await failure(client.heads())).retryAfterMs).toBe(3000)
    expect((await failure(client.heads())).message).toBe('NEW_CODE: later')
  })

  it('sends the token, the idempotency key and the query', async () => {
    const { fetch, requests } = fakeFetch([json(201, { entries: [] }), json(200, { entries: [], next: 'c1.x' })])
    const client = new YlogClient({ url: 'http://node.test/', token: 't0k', fetch })
    await client.appendBatch([{ topic: 't', kind: 'event', data: 1 }], { idempotencyKey: 'k-1' })
    await client.read({ topic: 'a/b', limit: 5, after: undefined })
    expect(requests[0]?.url).toBe('http://node.test/api/events/batch')
    expect(requests[0]?.init?.headers).toMatchObject({
      authorization: 'Bearer t0k',
      'idempotency-key': 'k-1',
      'content-type': 'application/json',
    })
    expect(requests[1]?.url).toBe('http://node.test/api/events?topic=a%2Fb&limit=5')
  })

  it('sends a consumer filter on ack only when given: a value sets it, null clears it', async () => {
    const view = { name: 'c', cursor: 'c1.x', ackedAt: 1, behind: 0, topic: 'orders', kind: 'event' }
    const { fetch, requests } = fakeFetch([json(200, view), json(200, view), json(200, view), json(200, view)])
    const client = new YlogClient({ url: 'http://node.test', fetch })
    expect(await client.ack('c/1', 'c1.x', { topic: 'orders', kind: 'event' })).toEqual(view)
    await client.ack('c', 'c1.x', { topic: null, kind: null, rewind: true })
    await client.ack('c', 'c1.x')
    expect(await client.consumer('c')).toMatchObject({ topic: 'orders', kind: 'event' })
    const sent = (body: unknown): unknown => (body === undefined ? undefined : JSON.parse(String(body)))
    expect(requests.map((r) => [r.init?.method, r.url, sent(r.init?.body)])).toEqual([
      ['PUT', 'http://node.test/api/consumers/c%2F1', { cursor: 'c1.x', topic: 'orders', kind: 'event' }],
      ['PUT', 'http://node.test/api/consumers/c', { cursor: 'c1.x', rewind: true, topic: null, kind: null }],
      ['PUT', 'http://node.test/api/consumers/c', { cursor: 'c1.x' }],
      ['GET', 'http://node.test/api/consumers/c', undefined],
    ])
  })
})

describe('YlogClient.stream', () => {
  const entry = (seq: number): string => JSON.stringify({ node: 'n', seq, topic: 't', kind: 'event', data: seq })

  it('resumes after a dropped connection with Last-Event-ID: nothing lost, nothing repeated', async () => {
    const { fetch, requests } = fakeFetch([
      sse(`: ylog stream after=c0\n\nid: c1\nevent: entry\ndata: ${entry(0)}\n\nid: c2\nevent: entry\ndata: ${entry(1)}\n\n`),
      new TypeError('fetch failed'),
      sse(
        `: ylog stream after=c2\n\nid: c3\nevent: gap\ndata: {"kind":"gap","node":"n","from":2,"to":4}\n\nid: c4\nevent: ` +
          `entry\ndata: ${entry(5)}\n\n`,
      ),
    ])
    const client = new YlogClient({ url: 'http://node.test', fetch })
    const items = []
    for await (const item of client.stream({ topic: 't', retryDelayMs: 1 })) {
      items.push(item)
      if (items.length === 4) break
    }
    expect(items.map((i) => (i.type === 'entry' ? i.entry.seq : `gap ${i.from}-${i.to}`))).toEqual([0, 1, 'gap 2-4', 5])
    expect(requests.map((r) => (r.init?.headers as Record<string, string> | undefined)?.['last-event-id'])).toEqual([undefined, 'c2', 'c2'])
    expect(requests[0]?.url).toBe('http://node.test/api/events/stream?topic=t')
  })

  it('resumes from the position the node announced when it dropped before the first event', async () => {
    const { fetch, requests } = fakeFetch([sse(': ylog stream after=c7\n\n'), sse(`id: c8\nevent: entry\ndata: ${entry(7)}\n\n`)])
    const client = new YlogClient({ url: 'http://node.test', fetch })
    for await (const item of client.stream({ after: 'now', retryDelayMs: 1 })) {
      expect(item.cursor).toBe('c8')
      break
    }
    expect((requests[1]?.init?.headers as Record<string, string> | undefined)?.['last-event-id']).toBe('c7')
  })

  it('throws the error event of onLag=close, and refusals a retry cannot fix', async () => {
    const lagged = sse('event: error\ndata: {"error":{"code":"LAGGED","message":"fell behind"}}\n\n')
    const client = new YlogClient({
      url: 'http://node.test',
      fetch: fakeFetch([lagged, json(400, { error: { code: 'BAD_CURSOR', message: 'no' } })]).fetch,
    })
    const drain = async (): Promise<void> => {
      for await (const _ of client.stream({ onLag: 'close' })) void _
    }
    expect((await failure(drain())).code).toBe('LAGGED')
    expect((await failure(drain())).code).toBe('BAD_CURSOR')
  })
})
