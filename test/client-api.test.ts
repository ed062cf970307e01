// @ylog/client against a real node (in this process, one node shared by the file): every call, its errors, and
// the event stream resuming across a node restart without losing or repeating an entry.
import { YlogClient, isTransient, type StreamItem } from '@ylog/client'
import { waitFor } from '@ylog/core/testing'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../apps/node/src/config.js'
import { startNode, type NodeHandle } from '../apps/node/src/node.js'
import { tempDir } from './support/node-process.js'
import { refusal } from './support/refusal.js'

const silent = pino({ level: 'silent' })
const data = tempDir('ylog-client-')
let node: NodeHandle
let client: YlogClient

const start = (port: number): Promise<NodeHandle> =>
  startNode(loadConfig(['--data', data, '--port', String(port), '--durability', 'normal'], {}), silent)

beforeAll(async () => {
  node = await start(0)
  client = new YlogClient({ url: node.url })
})
afterAll(async () => {
  await node.close()
})

describe('YlogClient against a node', () => {
  it('appends, reads back, pages to the end and reports heads and nodes', async () => {
    const one = await client.append({ topic: 'client.a', kind: 'event', data: { n: 0 } })
    expect(one).toMatchObject({ node: node.node, id: `${node.node}:${one.seq}`, hash: expect.stringMatching(/^[0-9a-f]{64}$/) })
    const batch = await client.appendBatch([1, 2, 3].map((n) => ({ topic: 'client.a', kind: 'event' as const, data: { n } })))
    expect(batch.map((r) => r.seq)).toEqual([one.seq + 1, one.seq + 2, one.seq + 3])
    expect(await client.get(one.node, one.seq)).toMatchObject({ topic: 'client.a', data: { n: 0 }, hash: one.hash })

    const page = await client.read({ topic: 'client.a', limit: 2 })
    expect(page.entries.map((e) => e.data)).toEqual([{ n: 0 }, { n: 1 }])
    const rest = []
    for await (const entry of client.readAll({ topic: 'client.a', after: page.next, limit: 1 })) rest.push(entry.data)
    expect(rest).toEqual([{ n: 2 }, { n: 3 }])

    const heads = await client.heads()
    expect(heads.heads.find((h) => h.node === node.node)?.length).toBeGreaterThanOrEqual(4)
    expect((await client.nodes()).self).toBe(node.node)
  })

  it('replays an idempotent batch and refuses a changed one with IDEMPOTENCY_CONFLICT', async () => {
    const inputs = [{ topic: 'client.idem', kind: 'event' as const, data: 'x' }]
    const first = await client.appendBatch(inputs, { idempotencyKey: 'client-test-1' })
    expect(await client.appendBatch(inputs, { idempotencyKey: 'client-test-1' })).toEqual(first)
    const err = await refusal(client.appendBatch([{ topic: 'client.idem', kind: 'event', data: 'y' }], { idempotencyKey: 'client-test-1' }))
    expect([err.code, err.status, isTransient(err)]).toEqual(['IDEMPOTENCY_CONFLICT', 409, false])
  })

  it("maps the node's refusals, and an unreachable node, to codes", async () => {
    expect((await refusal(client.append({ topic: '', kind: 'event', data: 1 }))).code).toBe('BAD_TOPIC')
    expect((await refusal(client.get(node.node, 1_000_000))).code).toBe('NOT_FOUND')
    expect((await refusal(client.read({ after: 'nonsense' }))).code).toBe('BAD_CURSOR')
    const big = await refusal(client.append({ topic: 't', kind: 'event', data: 'x'.repeat(2 << 20) }))
    expect([big.code, big.status, isTransient(big)]).toEqual(['BODY_TOO_LARGE', 413, false])
    const gone = await refusal(new YlogClient({ url: 'http://127.0.0.1:1' }).heads())
    expect([gone.code, isTransient(gone)]).toEqual(['NETWORK', true])
  })

  it('acks a named consumer forward only', async () => {
    const page = await client.read({ topic: 'client.a' })
    const acked = await client.ack('client-billing', page.next)
    expect(acked).toMatchObject({ name: 'client-billing', cursor: page.next, ackedAt: expect.any(Number) })
    expect((await client.consumer('client-billing')).cursor).toBe(page.next)
    expect((await refusal(client.ack('client-billing', 'c1.gA'))).code).toBe('CURSOR_BACKWARDS')
  })

  it("sets, keeps and clears a consumer's topic/kind filter; behind counts what the filter selects", async () => {
    const start = (await client.read({ topic: 'client.f' })).next
    await client.appendBatch([
      { topic: 'client.f', kind: 'event', data: 1 },
      { topic: 'client.f', kind: 'event', data: 2 },
      { topic: 'client.g', kind: 'event', data: 3 },
    ])
    expect(await client.ack('client-filtered', start, { topic: 'client.f' })).toMatchObject({ topic: 'client.f', kind: null, behind: 2 })
    expect(await client.ack('client-filtered', start, { kind: 'transition' })).toMatchObject({
      topic: 'client.f',
      kind: 'transition',
      behind: 0,
    })
    expect(await client.ack('client-filtered', start)).toMatchObject({ topic: 'client.f', kind: 'transition' })
    expect(await client.consumer('client-filtered')).toMatchObject({ topic: 'client.f', kind: 'transition', cursor: start })
    const open = await client.ack('client-filtered', start, { topic: null, kind: null })
    expect(open).toMatchObject({ topic: null, kind: null, behind: 3 })
    expect((await refusal(client.ack('client-filtered', start, { topic: '' }))).code).toBe('BAD_TOPIC')
  })

  it('follows the stream across a node restart: every entry once, in order', async () => {
    const controller = new AbortController()
    const seen: StreamItem[] = []
    const following = (async () => {
      for await (const item of client.stream({ topic: 'client.live', after: 'now', retryDelayMs: 20, signal: controller.signal }))
        seen.push(item)
    })()
    // The stream is open once the node counts it; appends from then on must all arrive.
    await waitFor(async () => (await (await fetch(`${node.url}/metrics`)).text()).includes('ylog_event_streams 1'))
    await client.append({ topic: 'client.live', kind: 'event', data: 0 })
    await waitFor(() => seen.length === 1)
    const port = node.port
    await node.close()
    node = await start(port)
    await client.append({ topic: 'client.live', kind: 'event', data: 1 })
    await waitFor(() => seen.length === 2)
    controller.abort()
    await following
    expect(seen.map((item) => (item.type === 'entry' ? item.entry.data : 'gap'))).toEqual([0, 1])
  })
})
