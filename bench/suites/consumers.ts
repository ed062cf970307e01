// Consumer figures: filtered and cursor reads over HTTP against a daemon
// holding 1M entries, Server-Sent Events latency at a paced 1,000/s, and
// fan-out to 100 in-process subscribers.
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import autocannon from 'autocannon'
import { DurableLog, encodeCursor, NodeIdentity, subscribe, MemoryUpdateStore, type EntryInput } from '@ylog/core'
import { ThreadedSqliteStore } from '@ylog/sqlite'
import { percentile, rate, report, sampleData, tempDir, type Figures } from '../harness.js'
import { startNode } from '../../test/support/node-process.js'

const ENTRIES = Number(process.env.YLOG_BENCH_READ_ENTRIES ?? 1_000_000)
const SECONDS = Number(process.env.YLOG_BENCH_HTTP_SECONDS ?? 10)
const FANOUT_ENTRIES = Number(process.env.YLOG_BENCH_FANOUT_ENTRIES ?? 50_000)
const figures: Figures = {}

// 1. A 1M-entry data directory, written in batches (the fastest way in), then served by the real daemon.
const data = tempDir('ylog-bench-')
const { identity } = NodeIdentity.loadOrCreate(join(data, 'node.key'))
const T0 = 1_700_000_000_000
{
  const durable = await DurableLog.open({
    identity,
    store: await ThreadedSqliteStore.open(join(data, 'ylog.db'), { durability: 'normal' }),
    signing: 'thread',
    now: () => T0,
    // The entries' times are spread over the next ENTRIES ms on purpose (reads by time need a range), ahead of this fixed clock.
    maxClockSkewMs: ENTRIES,
  })
  const started = performance.now()
  for (let i = 0; i < ENTRIES; i += 1000) {
    const batch: EntryInput[] = Array.from({ length: Math.min(1000, ENTRIES - i) }, (_, k) => ({
      topic: `stage-${(i + k) % 10}`,
      kind: 'event',
      data: sampleData(i + k),
      at: T0 + i + k,
    }))
    await durable.appendBatch(batch)
  }
  figures['http.read_setup_rate'] = rate(ENTRIES, performance.now() - started)
  await durable.close()
}

const node = await startNode(['--data', data], { LOG_LEVEL: 'warn' }, 120_000)
try {
  const random = (n: number): number => Math.floor(Math.random() * n)
  // Latency with one connection (what one poller sees); throughput with 8 (the node serves reads on one thread, so 8 at once queue).
  const read = async (name: string, path: () => string): Promise<void> => {
    for (const connections of [1, 8]) {
      const result = await autocannon({
        url: node.url,
        connections,
        duration: SECONDS / 2,
        requests: [{ method: 'GET', setupRequest: (req) => ({ ...req, path: path() }) }],
      })
      if (result.non2xx > 0 || result.errors > 0) throw new Error(`${name}: ${result.non2xx} non-2xx answers and ${result.errors} errors`)
      if (connections === 1) {
        figures[`http.${name}_p50_ms`] = result.latency.p50
        figures[`http.${name}_p99_ms`] = result.latency.p99
      } else {
        figures[`http.${name}_rate_8conn`] = Math.round(result.requests.average)
        figures[`http.${name}_p99_ms_8conn`] = result.latency.p99
      }
    }
  }
  await read('after', () => `/api/events?limit=100&after=${encodeCursor(new Map([[identity.id, random(ENTRIES - 100)]]))}`)
  await read('since', () => `/api/events?limit=100&since=${T0 + random(ENTRIES - 100)}`)
  await read('topic', () => `/api/events?limit=100&topic=stage-3&after=${encodeCursor(new Map([[identity.id, random(ENTRIES - 1000)]]))}`)

  // 2. SSE: POST at a paced 1,000/s; latency from sending the POST until the stream delivers the entry.
  const controller = new AbortController()
  const res = await fetch(`${node.url}/api/events/stream?after=now&topic=sse`, { signal: controller.signal })
  const reader = (res.body as ReadableStream<Uint8Array>).getReader()
  const decoder = new TextDecoder()
  const sentAt = new Map<number, number>()
  const latencies: number[] = []
  const received = (async () => {
    let text = ''
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }))
      if (done) return
      text += decoder.decode(value, { stream: true })
      let end: number
      while ((end = text.indexOf('\n\n')) >= 0) {
        const event = text.slice(0, end)
        text = text.slice(end + 2)
        const line = event.split('\n').find((l) => l.startsWith('data: '))
        if (line === undefined) continue
        const n = (JSON.parse(line.slice(6)) as { data: { n: number } }).data.n
        const t = sentAt.get(n)
        if (t !== undefined) latencies.push(performance.now() - t)
      }
    }
  })()
  const total = 1000 * Math.min(SECONDS, 10)
  const start = performance.now()
  const posts: Promise<unknown>[] = []
  for (let n = 0; n < total; n++) {
    const due = start + n
    const wait = due - performance.now()
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait))
    sentAt.set(n, performance.now())
    posts.push(
      fetch(`${node.url}/api/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ topic: 'sse', kind: 'event', data: { n } }),
      }),
    )
  }
  await Promise.all(posts)
  const deadline = performance.now() + 10_000
  while (latencies.length < total && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
  controller.abort()
  await received
  if (latencies.length < total) throw new Error(`SSE delivered ${latencies.length} of ${total} entries`)
  latencies.sort((a, b) => a - b)
  figures['http.sse_latency_p50_ms'] = Math.round(percentile(latencies, 50) * 10) / 10
  figures['http.sse_latency_p99_ms'] = Math.round(percentile(latencies, 99) * 10) / 10
} finally {
  await node.stop()
  rmSync(data, { recursive: true, force: true })
}

// 3. Fan-out: 100 live subscribers in one process, each reading every entry as it commits.
{
  const durable = await DurableLog.open({ identity: NodeIdentity.generate(), store: new MemoryUpdateStore() })
  const SUBSCRIBERS = 100
  // The default buffer (1024 per subscriber): what users get. Entries dropped for a slow reader are counted, not hidden.
  const subscriptions = Array.from({ length: SUBSCRIBERS }, () => subscribe(durable, { after: 'now' }))
  let dropped = 0
  const readers = subscriptions.map(async (s) => {
    let covered = 0
    for await (const item of s) {
      if (item.kind === 'gap') {
        dropped += item.to - item.from + 1
        covered += item.to - item.from + 1
      } else covered++
      if (covered >= FANOUT_ENTRIES) break
    }
  })
  const started = performance.now()
  for (let i = 0; i < FANOUT_ENTRIES; i += 100) {
    await durable.appendBatch(Array.from({ length: 100 }, (_, k) => ({ topic: 'fanout', kind: 'event' as const, data: sampleData(i + k) })))
  }
  await Promise.all(readers)
  figures['stream.fanout_100_rate'] = rate(FANOUT_ENTRIES, performance.now() - started)
  figures['stream.fanout_100_dropped'] = dropped
  await durable.close()
}

report(figures)
