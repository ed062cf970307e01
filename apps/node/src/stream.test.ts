// Server-Sent Events and the ingest queue, against a real listening node.
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import { loadConfig } from './config.js'
import { startNode, type NodeHandle } from './node.js'

const silent = pino({ level: 'silent' })
const running: NodeHandle[] = []
afterEach(async () => {
  for (const node of running.splice(0)) await node.close()
})

async function node(extra: string[] = []): Promise<NodeHandle> {
  const data = mkdtempSync(join(tmpdir(), 'ylog-stream-'))
  const handle = await startNode(loadConfig(['--data', data, '--port', '0', '--durability', 'normal', ...extra], {}), silent)
  running.push(handle)
  return handle
}

interface SseEvent {
  id: string | undefined
  event: string | undefined
  data: unknown
}

/** Opens a stream; `take(n)` reads the next n events. */
async function openStream(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; take: (n: number) => Promise<SseEvent[]>; close: () => void }> {
  const controller = new AbortController()
  const res = await fetch(url, { headers, signal: controller.signal })
  const reader = (res.body as ReadableStream<Uint8Array>).getReader()
  const decoder = new TextDecoder()
  let text = ''
  const take = async (n: number): Promise<SseEvent[]> => {
    const out: SseEvent[] = []
    while (out.length < n) {
      const end = text.indexOf('\n\n')
      if (end < 0) {
        const { value, done } = await reader.read()
        if (done) throw new Error(`stream ended after ${out.length} of ${n} events`)
        text += decoder.decode(value, { stream: true })
        continue
      }
      const block = text.slice(0, end)
      text = text.slice(end + 2)
      const fields = new Map<string, string>()
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) continue
        const colon = line.indexOf(': ')
        fields.set(line.slice(0, colon), line.slice(colon + 2))
      }
      if (!fields.has('data')) continue
      out.push({ id: fields.get('id'), event: fields.get('event'), data: JSON.parse(fields.get('data') as string) })
    }
    return out
  }
  return { status: res.status, take, close: () => controller.abort() }
}

async function post(url: string, data: unknown, topic = 't'): Promise<Response> {
  return fetch(`${url}/api/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ topic, kind: 'event', data }),
  })
}

describe('GET /api/events/stream', () => {
  it('sends history then live entries, with cursor ids that Last-Event-ID resumes from exactly', async () => {
    const n = await node()
    for (let i = 0; i < 3; i++) await post(n.url, i)
    const stream = await openStream(`${n.url}/api/events/stream`)
    expect(stream.status).toBe(200)
    const history = await stream.take(3)
    expect(history.map((e) => (e.data as { data: number }).data)).toEqual([0, 1, 2])
    expect(history.every((e) => e.event === 'entry' && e.id?.startsWith('c1.'))).toBe(true)
    await post(n.url, 3)
    const [live] = await stream.take(1)
    expect((live?.data as { seq: number } | undefined)?.seq).toBe(3)
    stream.close()

    for (let i = 4; i < 6; i++) await post(n.url, i)
    // Resume after the second entry: exactly 2, 3, 4, 5 follow.
    const resumed = await openStream(`${n.url}/api/events/stream`, { 'last-event-id': history[1]?.id as string })
    expect((await resumed.take(4)).map((e) => (e.data as { data: number }).data)).toEqual([2, 3, 4, 5])
    resumed.close()
  })

  it('filters by topic and kind, and answers bad parameters with a 400 before streaming', async () => {
    const n = await node()
    await post(n.url, 'a', 'alpha')
    await post(n.url, 'b', 'beta')
    const stream = await openStream(`${n.url}/api/events/stream?topic=beta&kind=event`)
    expect((await stream.take(1)).map((e) => (e.data as { data: string }).data)).toEqual(['b'])
    stream.close()
    // after=now skips history.
    const fromNow = await openStream(`${n.url}/api/events/stream?after=now`)
    await post(n.url, 'c', 'gamma')
    expect((await fromNow.take(1)).map((e) => (e.data as { data: string }).data)).toEqual(['c'])
    fromNow.close()
    for (const query of ['after=nope', 'kind=note', 'topic=%20', 'buffer=0', 'extra=1']) {
      const res = await fetch(`${n.url}/api/events/stream?${query}`)
      expect(res.status, query).toBe(400)
      expect(((await res.json()) as { error: { message: string } }).error.message.length).toBeGreaterThan(10)
    }
  })

  it('tells a slow reader exactly which ranges it missed, as gap events', async () => {
    const n = await node()
    const stream = await openStream(`${n.url}/api/events/stream?buffer=8`)
    // The reader does not read while 20,000 entries (several MB) commit: socket buffers fill, then the subscription drops.
    const total = 20_000
    for (let i = 0; i < total; i += 1000) {
      const res = await fetch(`${n.url}/api/events/batch`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(
          Array.from({ length: 1000 }, (_, k) => ({ topic: 't', kind: 'event', data: { i: i + k, pad: 'x'.repeat(200) } })),
        ),
      })
      expect(res.status).toBe(201)
    }
    const seen = new Set<number>()
    let gaps = 0
    while (seen.size < total) {
      const [event] = await stream.take(1)
      if (event?.event === 'gap') {
        const { from, to } = event.data as { from: number; to: number }
        gaps++
        for (let seq = from; seq <= to; seq++) {
          expect(seen.has(seq)).toBe(false)
          seen.add(seq)
        }
      } else {
        const seq = (event?.data as { seq: number } | undefined)?.seq as number
        expect(seen.has(seq)).toBe(false)
        seen.add(seq)
      }
    }
    expect(gaps).toBeGreaterThan(0)
    expect(seen.size).toBe(total)
    stream.close()
  }, 60_000)
})

describe('ingest queue (policy drop)', () => {
  it('refuses events it cannot hold with 503 and records them in gap entries, counted everywhere', async () => {
    const n = await node(['--ingest-capacity', '1', '--ingest-policy', 'drop'])
    const answers = await Promise.all(Array.from({ length: 200 }, (_, i) => post(n.url, i)))
    const statuses = answers.map((r) => r.status)
    const dropped = statuses.filter((s) => s === 503).length
    expect(dropped).toBeGreaterThan(0)
    expect(statuses.filter((s) => s === 201).length + dropped).toBe(200)
    const body = (await answers[statuses.indexOf(503)]?.json()) as { error: { code: string } }
    expect(body.error.code).toBe('INGEST_FULL')
    // Every dropped event is named by exactly one gap entry.
    let gapEntries: Array<{ data: { from: number; to: number } }> = []
    for (let tries = 0; tries < 100; tries++) {
      const page = (await (await fetch(`${n.url}/api/events?kind=gap&limit=1000`)).json()) as {
        entries: Array<{ data: { from: number; to: number } }>
      }
      gapEntries = page.entries
      if (gapEntries.reduce((sum, g) => sum + g.data.to - g.data.from + 1, 0) === dropped) break
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    expect(gapEntries.reduce((sum, g) => sum + g.data.to - g.data.from + 1, 0)).toBe(dropped)
    const heads = (await (await fetch(`${n.url}/api/heads`)).json()) as { heads: Array<{ gaps: number }> }
    expect(heads.heads[0]?.gaps).toBe(gapEntries.length)
    const metrics = await (await fetch(`${n.url}/metrics`)).text()
    expect(metrics).toMatch(new RegExp(`^ylog_gaps_total ${gapEntries.length}$`, 'm'))
    expect(metrics).toMatch(new RegExp(`^ylog_ingest_dropped_total ${dropped}$`, 'm'))
  })
})

describe('shutdown', () => {
  it('ends open streams instead of waiting for them', async () => {
    const n = await node()
    await post(n.url, 1)
    const stream = await openStream(`${n.url}/api/events/stream`)
    await stream.take(1)
    running.splice(running.indexOf(n), 1)
    await n.close()
    await expect(stream.take(1)).rejects.toThrow(/stream ended/)
  })
})
