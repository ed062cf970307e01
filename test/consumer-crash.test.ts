// kill -9 a node while clients write with Idempotency-Keys and a consumer
// acks, restart it, and check: every key wrote its entries exactly once
// (retries after the restart replay, never duplicate), and the consumer's
// stored cursor is at least its last acknowledged ack.
// YLOG_CONSUMER_CRASH_SEEDS=20 runs more seeds than CI's 4.
import { describe, expect, it } from 'vitest'
import { readAll, seededRandom, startNode, tempDir } from './support/node-process.js'

const SEEDS = Number(process.env.YLOG_CONSUMER_CRASH_SEEDS ?? 4)
const CLIENTS = 8

function post(url: string, path: string, key: string, body: unknown): Promise<Response> {
  return fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': key },
    body: JSON.stringify(body),
  })
}

const requestFor = (key: string): { path: string; body: unknown } =>
  key.endsWith('b')
    ? { path: '/api/events/batch', body: [1, 2, 3].map((part) => ({ topic: 'orders', kind: 'event', data: { key, part } })) }
    : { path: '/api/events', body: { topic: 'orders', kind: 'event', data: { key } } }

async function crashRound(seed: number): Promise<void> {
  const random = seededRandom(seed)
  const data = tempDir()
  const first = await startNode(['--data', data])
  const answered = new Map<string, unknown>()
  const tried: string[] = []
  let lastAck: string | undefined
  let stop = false
  const target = 5 + Math.floor(random() * 150)
  let reached: () => void = () => {}
  const crashPoint = new Promise<void>((resolve) => (reached = resolve))
  const writers = Array.from({ length: CLIENTS }, async (_, c) => {
    for (let i = 0; !stop; i++) {
      const key = `k-${c}-${i}${i % 4 === 3 ? 'b' : ''}`
      tried.push(key)
      const { path, body } = requestFor(key)
      try {
        const res = await post(first.url, path, key, body)
        if (res.status === 201) answered.set(key, await res.json())
        if (answered.size >= target) reached()
      } catch {
        return
      }
    }
  })
  const consumer = (async () => {
    while (!stop) {
      try {
        const page = (await (await fetch(`${first.url}/api/events?limit=50${lastAck ? `&after=${lastAck}` : ''}`)).json()) as {
          next: string
        }
        const res = await fetch(`${first.url}/api/consumers/audit`, {
          method: 'PUT',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ cursor: page.next }),
        })
        if (res.status === 200) lastAck = page.next
      } catch {
        return
      }
    }
  })()
  await Promise.race([crashPoint, Promise.all(writers)])
  await first.crash()
  stop = true
  await Promise.all([...writers, consumer])

  const second = await startNode(['--data', data])
  try {
    // Acknowledged keys replay their first answer; every key retried now is written at most once.
    for (const key of tried) {
      const { path, body } = requestFor(key)
      const res = await post(second.url, path, key, body)
      expect(res.status, `key ${key} (seed ${seed})`).toBe(201)
      const answer = await res.json()
      if (answered.has(key)) {
        expect(answer, `key ${key} (seed ${seed})`).toEqual(answered.get(key))
        expect(res.headers.get('idempotent-replayed')).toBe('true')
      }
    }
    const entries = await readAll(second.url)
    const perKey = new Map<string, number>()
    for (const e of entries) {
      const key = (e.data as { key: string }).key
      perKey.set(key, (perKey.get(key) ?? 0) + 1)
    }
    for (const key of tried) expect(perKey.get(key), `entries written for key ${key} (seed ${seed})`).toBe(key.endsWith('b') ? 3 : 1)
    const seqs = entries.map((e) => e.seq)
    expect(seqs).toEqual([...seqs.keys()])
    if (lastAck !== undefined) {
      const stored = (await (await fetch(`${second.url}/api/consumers/audit`)).json()) as { cursor: string }
      // The stored cursor is the last acknowledged ack or one that was in flight after it; an older one is refused as backwards.
      const back = await fetch(`${second.url}/api/consumers/audit`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ cursor: lastAck }),
      })
      expect([200, 409], `re-ack of the last acknowledged cursor (seed ${seed})`).toContain(back.status)
      if (back.status === 200) expect(stored.cursor).toBe(lastAck)
    }
  } finally {
    expect(await second.stop()).toBe(0)
  }
}

describe('idempotency and consumer cursors survive kill -9 (child processes)', () => {
  for (let seed = 1; seed <= SEEDS; seed++) {
    it(`seed ${seed}: keys write exactly once, acks are kept`, () => crashRound(seed), 90_000)
  }
})
