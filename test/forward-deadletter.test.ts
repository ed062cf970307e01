// `ylog forward --dead-letter` against a real node: a refused batch is split until the refused line is found, the
// good lines of it go through, the refused one goes to the dead-letter file and the node signs a gap entry naming
// its bytes (POST /api/gaps, which is write-token guarded and idempotent).
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { lineToEvent } from '../apps/cli/src/forward/line-event.js'
import { runForward } from '../apps/cli/src/forward/run.js'
import { FollowedFile } from '../apps/cli/src/forward/sources.js'
import { readAll, startNode, tempDir, type RunningNode } from './support/node-process.js'

const TOKEN = 'forward-dead-letter-token'
let node: RunningNode

beforeAll(async () => {
  node = await startNode(['--data', tempDir(), '--store', 'memory', '--write-token', TOKEN])
})
afterAll(async () => {
  await node.stop()
})

describe('ylog forward --dead-letter', () => {
  it('splits a refused batch to the bad line; the rest goes through; the node signs a gap entry naming its bytes', async () => {
    const dir = tempDir()
    const file = join(dir, 'in.ndjson')
    const dead = join(dir, 'dead.ndjson')
    // Line 5 has a topic the node refuses (BAD_TOPIC): lineToEvent takes any string, the node checks the pattern.
    const lines = Array.from({ length: 8 }, (_, i) => `${JSON.stringify({ topic: i === 5 ? 'bad topic!' : 'dl.ok', data: { i } })}\n`)
    writeFileSync(file, lines.join(''))
    const from = Buffer.byteLength(lines.slice(0, 5).join(''))
    const to = from + Buffer.byteLength(lines[5] as string) - 1
    const [result] = await runForward([new FollowedFile(file, () => undefined)], {
      url: node.url,
      token: TOKEN,
      timeoutMs: 5000,
      retry: { maxRetries: 2, baseMs: 10, capMs: 50 },
      batchCount: 100,
      batchBytes: 512 * 1024,
      lingerMs: 0,
      follow: false,
      fromEnd: false,
      toEvent: (text) => lineToEvent(text, { timeField: 'time' }),
      checkpointDir: join(dir, 'ckpt'),
      deadLetterFile: dead,
      signal: new AbortController().signal,
      onNotice: () => undefined,
      onProgress: () => undefined,
    })
    expect(result).toMatchObject({ forwarded: 7, skipped: 1, newOffset: readFileSync(file).length })
    const log = await readAll(node.url)
    expect(log.filter((e) => e.topic === 'dl.ok').map((e) => (e.data as { i: number }).i)).toEqual([0, 1, 2, 3, 4, 6, 7])
    const gaps = log.filter((e) => e.kind === 'gap')
    expect(gaps).toHaveLength(1)
    expect(gaps[0]).toMatchObject({ topic: 'ylog.forward', data: { stream: `forward:${file}`, from, to } })
    const letters = readFileSync(dead, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>)
    const line = (lines[5] as string).trimEnd()
    expect(letters).toEqual([{ source: file, from, to: to + 1, line, code: 'BAD_TOPIC', message: expect.any(String) }])
  })

  it('POST /api/gaps: guarded by the write token, idempotent, checks the range', async () => {
    const post = (body: unknown, headers: Record<string, string> = {}): Promise<Response> =>
      fetch(`${node.url}/api/gaps`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify(body),
      })
    const gap = { topic: 'dl.route', stream: 'forward:/x', from: 10, count: 10 }
    expect((await post(gap)).status).toBe(401)
    const auth = { authorization: `Bearer ${TOKEN}`, 'idempotency-key': 'gap-route-1' }
    const first = await post(gap, auth)
    expect(first.status).toBe(201)
    const again = await post(gap, auth)
    expect(again.status).toBe(201)
    expect(again.headers.get('idempotent-replayed')).toBe('true')
    expect(await again.json()).toEqual(await first.json())
    const empty = await post({ ...gap, count: 0 }, { authorization: `Bearer ${TOKEN}` })
    expect(empty.status).toBe(400)
    expect(((await empty.json()) as { error: { code: string } }).error.code).toBe('BAD_DATA')
    expect((await post({ ...gap, kind: 'gap' }, { authorization: `Bearer ${TOKEN}` })).status).toBe(400)
    const stored = (await readAll(node.url)).filter((e) => e.topic === 'dl.route')
    expect(stored.map((e) => [e.kind, e.data])).toEqual([['gap', { stream: 'forward:/x', from: 10, to: 19 }]])
  })
})
