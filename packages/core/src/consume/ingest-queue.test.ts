import * as Y from 'yjs'
import { describe, expect, it } from 'vitest'
import { DurableLog } from '../durable/durable-log.js'
import type { Entry, GapData } from '../entry/entry.js'
import { NodeIdentity } from '../entry/identity.js'
import { IngestQueue, type IngestGap, type IngestResult } from './ingest-queue.js'
import { LogDoc } from '../doc/log-doc.js'
import { GatedStore, seededRandom, waitFor } from '../testing/test-support.js'
import { logDocOf } from '../durable/committed-log.js'

const turn = (): Promise<void> => new Promise<void>((resolve) => setImmediate(resolve))

const until = (condition: () => boolean): Promise<void> => waitFor(condition, 'the condition', { intervalMs: 0 })

async function gated(): Promise<{ durable: DurableLog; store: GatedStore; id: string }> {
  const store = new GatedStore()
  const durable = await DurableLog.open({ identity: NodeIdentity.generate(), store })
  return { durable, store, id: logDocOf(durable).identity?.id as string }
}

/** The ingest numbers the log accounts for, in log order: an event's own (data.i), or a gap entry's range. */
function ingestOrder(log: LogDoc, node: string, stream: string): number[] {
  return log.range(node).flatMap((e) => {
    if (e.kind === 'gap')
      return e.data.stream === stream ? Array.from({ length: e.data.to - e.data.from + 1 }, (_, k) => e.data.from + k) : []
    return e.kind === 'event' ? [(e.data as { i: number }).i] : []
  })
}

describe('IngestQueue', () => {
  it("with policy 'block' never drops: a full queue holds producers back until commits make room", async () => {
    const { durable, store, id } = await gated()
    const queue = new IngestQueue(durable, { capacity: 4, policy: 'block' })
    const settled: IngestResult[] = []
    const pushes = Array.from({ length: 20 }, (_, i) => queue.push({ topic: 't', kind: 'event', data: { i } }).then((r) => settled.push(r)))
    await until(() => logDocOf(durable).length(id) === 4)
    // Nothing beyond capacity reached the log while the store held the first commit.
    await turn()
    expect(logDocOf(durable).length(id)).toBe(4)
    expect(queue.size).toBe(4)
    expect(queue.waiting).toBe(16)
    expect(settled).toHaveLength(0)
    let sizeSeen = 0
    while (settled.length < 20) {
      store.release()
      await turn()
      sizeSeen = Math.max(sizeSeen, queue.size)
      expect(logDocOf(durable).length(id) - settled.length).toBeLessThanOrEqual(4)
    }
    await Promise.all(pushes)
    expect(sizeSeen).toBeLessThanOrEqual(4)
    expect(settled.map((r) => r.status)).toEqual(Array(20).fill('appended'))
    expect(settled.map((r) => r.ingest)).toEqual([...Array(20).keys()])
    expect(ingestOrder(logDocOf(durable), id, queue.stream)).toEqual([...Array(20).keys()])
    expect(queue.stats).toEqual({ pushed: 20, appended: 20, lost: 0, gaps: 0 })
    store.open()
    await queue.close()
  })

  it('stamps an entry when it is written, not when it was pushed; an event that gives its at keeps it', async () => {
    const start = 1_700_000_000_000
    let clock = start
    const store = new GatedStore()
    const durable = await DurableLog.open({ identity: NodeIdentity.generate(), store, now: () => clock })
    const id = logDocOf(durable).identity?.id as string
    const queue = new IngestQueue(durable, { capacity: 1, policy: 'block' })
    const first = queue.push({ topic: 't', kind: 'event', data: 1 })
    await until(() => logDocOf(durable).length(id) === 1)
    // Both wait behind the first (capacity 1, its commit held) while the clock moves on.
    const stamped = queue.push({ topic: 't', kind: 'event', data: 2 })
    const given = queue.push({ topic: 't', kind: 'event', data: 3, at: start + 30_000 })
    clock += 5_000
    store.open()
    const [a, b, c] = (await Promise.all([first, stamped, given])) as Array<Extract<IngestResult, { status: 'appended' }>>
    expect([a?.entry.at, b?.entry.at, c?.entry.at]).toEqual([start, start + 5_000, start + 30_000])
    await queue.close()
    await durable.close()
  })

  it("with policy 'drop' under a seeded overload, entries plus gap ranges are every pushed event once, in order", async () => {
    for (const seed of [7, 8, 9, 10]) {
      const random = seededRandom(seed)
      const { durable, store, id } = await gated()
      const gaps: IngestGap[] = []
      const queue = new IngestQueue(durable, { capacity: 8, policy: 'drop', stream: 'sensor', onGap: (g) => gaps.push(g) })
      const topics = ['a', 'b', 'c']
      const pushed: Array<{ topic: string; result: Promise<IngestResult> }> = []
      for (let round = 0; round < 60; round++) {
        const burst = Math.floor(random() * 20)
        const topic = random() < 0.5 ? 'a' : (topics[Math.floor(random() * 3)] as string)
        for (let k = 0; k < burst; k++) {
          const t = random() < 0.8 ? topic : (topics[Math.floor(random() * 3)] as string)
          pushed.push({ topic: t, result: queue.push({ topic: t, kind: 'event', data: { i: pushed.length } }) })
        }
        if (random() < 0.6) store.release()
        await turn()
      }
      store.open()
      await queue.flush()
      const results = await Promise.all(pushed.map((p) => p.result))
      const n = pushed.length
      expect(results.map((r) => r.ingest)).toEqual([...Array(n).keys()])

      // The whole accounting: walking the log, events and gap ranges name 0..n-1, each once, in push order.
      expect(ingestOrder(logDocOf(durable), id, queue.stream)).toEqual([...Array(n).keys()])
      const gapEntries = logDocOf(durable)
        .range(id)
        .filter((e): e is Entry & { kind: 'gap'; data: GapData } => e.kind === 'gap')
      const dropped = results.filter((r) => r.status === 'dropped').map((r) => r.ingest)
      expect(gapEntries.flatMap((e) => Array.from({ length: e.data.to - e.data.from + 1 }, (_, k) => e.data.from + k))).toEqual(dropped)
      expect(dropped.length).toBeGreaterThan(0)
      expect(dropped.length).toBeLessThan(n)
      for (const r of results) if (r.status === 'appended') expect(r.entry.data).toEqual({ i: r.ingest })
      // Drops in a row make one gap: two gap entries always have an appended event between them.
      const kinds = logDocOf(durable)
        .range(id)
        .map((e) => e.kind)
        .join(',')
      expect(kinds).not.toMatch(/gap,gap/)

      expect(gaps.map((g) => [g.from, g.to, g.entry?.hash])).toEqual(gapEntries.map((e) => [e.data.from, e.data.to, e.hash]))
      for (const g of gaps) {
        const lost = pushed.slice(g.from, g.to + 1).map((p) => p.topic)
        const counts: Record<string, number> = {}
        for (const t of lost) counts[t] = (counts[t] ?? 0) + 1
        expect(g).toMatchObject({ stream: queue.stream, count: lost.length, topics: counts, otherTopics: 0 })
        expect(g.firstAt).toBeLessThanOrEqual(g.lastAt)
        expect(g.entry?.topic).toBe(Object.keys(counts).length === 1 ? lost[0] : 'ylog.gaps')
      }
      expect(queue.stream).toMatch(/^sensor:[0-9a-f]{12}$/)
      expect(queue.stats).toEqual({ pushed: n, appended: n - dropped.length, lost: dropped.length, gaps: gapEntries.length })

      // Gap entries are signed entries like any other: the chain verifies, and a replica accepts and verifies them.
      expect(logDocOf(durable).verifyChains()).toMatchObject({ ok: true, entries: logDocOf(durable).length(id) })
      const replica = new LogDoc()
      expect(replica.applyRemote(Y.encodeStateAsUpdate(logDocOf(durable).doc))).toMatchObject({ status: 'accepted' })
      expect(
        replica
          .range(id)
          .filter((e) => e.kind === 'gap')
          .map((e) => e.hash),
      ).toEqual(gapEntries.map((e) => e.hash))
      expect(replica.verifyChains()).toMatchObject({ ok: true })
      await queue.close()
    }
  })

  for (const policy of ['block', 'drop'] as const) {
    it(`refuses an event the log would refuse (too large, too far ahead) before it is numbered (${policy})`, async () => {
      const { durable, store, id } = await gated()
      store.open()
      const gaps: IngestGap[] = []
      const queue = new IngestQueue(durable, { capacity: 8, policy, onGap: (g) => gaps.push(g) })
      const before = queue.push({ topic: 't', kind: 'event', data: { i: 0 } })
      await expect(queue.push({ topic: 't', kind: 'event', data: { i: 1, pad: 'x'.repeat(70_000) } })).rejects.toThrow(
        expect.objectContaining({ code: 'ENTRY_TOO_LARGE' }),
      )
      await expect(queue.push({ topic: 't', kind: 'event', data: 1, at: Date.now() + 3_600_000 })).rejects.toThrow(
        expect.objectContaining({ code: 'BAD_TIME' }),
      )
      const after = queue.push({ topic: 't', kind: 'event', data: { i: 2 } })
      expect(await before).toMatchObject({ status: 'appended', ingest: 0 })
      expect(await after).toMatchObject({ status: 'appended', ingest: 1 })
      await queue.flush()
      expect(gaps).toEqual([])
      expect(queue.stats).toMatchObject({ pushed: 2, appended: 2, lost: 0, gaps: 0 })
      expect(ingestOrder(logDocOf(durable), id, queue.stream)).toEqual([0, 2])
      expect(
        logDocOf(durable)
          .range(id)
          .map((e) => e.kind),
      ).toEqual(['event', 'event'])
      await queue.close()
    })
  }

  it('refuses bad input at once without numbering it, and refuses pushes once closed', async () => {
    const { durable, store } = await gated()
    store.open()
    const queue = new IngestQueue(durable, { capacity: 2, policy: 'block' })
    await expect(queue.push({ topic: 'bad topic', kind: 'event', data: 1 })).rejects.toThrow(expect.objectContaining({ code: 'BAD_TOPIC' }))
    await expect(queue.push({ topic: 't', kind: 'gap', data: { stream: 's', from: 2, to: 1 } })).rejects.toThrow(
      expect.objectContaining({ code: 'BAD_DATA' }),
    )
    const blocked = Array.from({ length: 5 }, (_, i) => queue.push({ topic: 't', kind: 'event', data: { i } }))
    const closing = queue.close()
    await expect(queue.push({ topic: 't', kind: 'event', data: 'late' })).rejects.toThrow(expect.objectContaining({ code: 'CLOSED' }))
    await closing
    // Close drained what was pushed before it, blocked pushes included; the bad inputs took no number.
    expect((await Promise.all(blocked)).map((r) => [r.status, r.ingest])).toEqual([0, 1, 2, 3, 4].map((i) => ['appended', i]))
    expect(queue.stats.pushed).toBe(5)
    expect(() => new IngestQueue(durable, { capacity: 0, policy: 'drop' })).toThrow(expect.objectContaining({ code: 'BAD_ARGUMENT' }))
  })

  it('reports every loss when the log stops accepting writes: queued events reject, queued gaps go to onGap without an entry', async () => {
    const { durable, store } = await gated()
    const gaps: IngestGap[] = []
    const queue = new IngestQueue(durable, { capacity: 2, policy: 'drop', onGap: (g) => gaps.push(g) })
    const results = Array.from({ length: 5 }, (_, i) =>
      queue.push({ topic: 't', kind: 'event', data: { i } }).then(
        (r) => r,
        (err: unknown) => err,
      ),
    )
    await turn()
    store.failing = true
    store.release()
    const settled = await Promise.all(results)
    expect(settled.slice(0, 2)).toMatchObject([{ code: 'STORE_FAILED' }, { code: 'STORE_FAILED' }])
    expect(settled.slice(2)).toEqual([2, 3, 4].map((ingest) => ({ status: 'dropped', ingest })))
    await queue.flush()
    expect(gaps).toMatchObject([{ from: 2, to: 4, count: 3, entry: undefined, error: { code: 'STORE_FAILED' } }])
    await expect(queue.push({ topic: 't', kind: 'event', data: 'after' })).rejects.toThrow(
      expect.objectContaining({ code: 'STORE_FAILED' }),
    )
  })
})
