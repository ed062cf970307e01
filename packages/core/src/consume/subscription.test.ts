import { describe, expect, it, vi } from 'vitest'
import { DurableLog } from '../durable/durable-log.js'
import type { Entry, EntryInput, EntryKind } from '../entry/entry.js'
import { NodeIdentity } from '../entry/identity.js'
import { MemoryUpdateStore } from '../durable/memory-update-store.js'
import type { ApplyResult } from '../doc/log-doc.js'
import { subscribe, type Subscription, type SubscriptionEntry, type SubscriptionGap, type SubscriptionItem } from './subscription.js'
import { GatedStore, seededRandom, waitFor } from '../testing/test-support.js'
import { logDocOf } from '../durable/committed-log.js'

const open = (): Promise<DurableLog> => DurableLog.open({ identity: NodeIdentity.generate(), store: new MemoryUpdateStore() })

/** Node b's committed updates reach node a through applyRemote, as a sync transport delivers them. */
async function pair(): Promise<{ a: DurableLog; b: DurableLog; relayed: Array<Promise<ApplyResult>> }> {
  const a = await open()
  const b = await open()
  const relayed: Array<Promise<ApplyResult>> = []
  b.onCommit((_info, updates) => {
    for (const update of updates) relayed.push(a.applyRemote(update))
  })
  return { a, b, relayed }
}

/** One pull that fails the test instead of hanging when nothing comes. */
async function pull(sub: Subscription, ms = 10_000): Promise<IteratorResult<SubscriptionItem, undefined>> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no item within ${ms} ms`)), ms)
  })
  try {
    return await Promise.race([sub.next(), deadline])
  } finally {
    clearTimeout(timer)
  }
}

async function take(sub: Subscription, n: number): Promise<SubscriptionItem[]> {
  const items: SubscriptionItem[] = []
  while (items.length < n) {
    const r = await pull(sub)
    if (r.done === true) throw new Error(`subscription ended after ${items.length} of ${n} items`)
    items.push(r.value)
  }
  return items
}

const until = (condition: () => boolean): Promise<void> => waitFor(condition, 'the condition', { intervalMs: 0 })

const key = (e: { node: string; seq: number }): string => `${e.node}:${e.seq}`
const entriesOf = (items: SubscriptionItem[]): Entry[] => items.flatMap((i) => (i.kind === 'entry' ? [i.entry] : []))

/** Each node's items come in strictly increasing seq, gaps included, and each entry's cursor sits just after it. */
function expectOrderedPerNode(items: SubscriptionItem[]): void {
  const last = new Map<string, number>()
  for (const item of items) {
    const node = item.kind === 'entry' ? item.entry.node : item.node
    const from = item.kind === 'entry' ? item.entry.seq : item.from
    const to = item.kind === 'entry' ? item.entry.seq : item.to
    expect(from).toBeGreaterThan(last.get(node) ?? -1)
    expect(item.cursor.get(node)).toBe(to + 1)
    last.set(node, to)
  }
}

function event(topic: string, i: number, kind: EntryKind = 'event'): EntryInput {
  return kind === 'transition'
    ? { topic, kind, data: { subject: `s${i}`, from: 'a', to: 'b', event: 'e' } }
    : { topic, kind: 'event', data: { i } }
}

describe('subscribe', () => {
  it('delivers history, then live entries, each exactly once, while writers keep appending', async () => {
    const durable = await open()
    // What the store has committed, per node, as seen by an independent listener registered before anything was written.
    const committed = new Map<string, number>()
    durable.onCommit((_info, _updates, rows) => {
      for (const r of rows) committed.set(r.node, Math.max(committed.get(r.node) ?? 0, r.seq + 1))
    })
    for (let chunk = 0; chunk < 5; chunk++)
      await Promise.all(Array.from({ length: 500 }, (_, i) => durable.append(event('t', chunk * 500 + i))))
    const gets = vi.spyOn(logDocOf(durable), 'getBytes')
    // Three writers that await each commit, so appends land before, during and after the handover.
    const writers = Promise.all(
      [0, 1, 2].map(async (w) => {
        for (let i = 0; i < 400; i++) {
          await durable.append(event(`w${w}`, i))
          if (i % 50 === 0) await new Promise<void>((resolve) => setImmediate(resolve))
        }
      }),
    )
    const sub = subscribe(durable)
    const items: SubscriptionItem[] = []
    while (items.length < 3700) {
      const [item] = await take(sub, 1)
      if (item?.kind !== 'entry') throw new Error(`expected an entry, got ${JSON.stringify(item)}`)
      expect(item.entry.seq).toBeLessThan(committed.get(item.entry.node) ?? 0)
      items.push(item)
      // History is read a page at a time, not all 2,500 entries before the first is handed out.
      if (items.length === 1) expect(gets.mock.calls.length).toBeLessThanOrEqual(1000)
    }
    await writers
    expectOrderedPerNode(items)
    const seqs = entriesOf(items).map((e) => e.seq)
    expect(seqs).toEqual([...Array(3700).keys()])
    expect(entriesOf(items).map((e) => e.hash)).toEqual([...logDocOf(durable).entries()].map((e) => e.hash))
    // Nothing more is pending for this subscriber: the next entry is the next one appended.
    const marker = await durable.append(event('end', 0))
    expect((await take(sub, 1))[0]).toMatchObject({ kind: 'entry', entry: { seq: marker.seq, topic: 'end' } })

    // A reader resuming from any cursor gets exactly what followed it.
    const resumeAt = items[1234] as SubscriptionEntry
    const resumed = subscribe(durable, { after: resumeAt.cursor })
    const rest = await take(resumed, 3701 - 1235)
    expect(entriesOf(rest).map((e) => e.seq)).toEqual(Array.from({ length: 3701 - 1235 }, (_, i) => 1235 + i))
    await resumed.return()
    await sub.return()
  })

  it('delivers entries written on another node and relayed to this one, in history and live', async () => {
    const { a, b, relayed } = await pair()
    for (let i = 0; i < 5; i++) await b.append(event('remote', i))
    await Promise.all(relayed)
    await a.append(event('local', 0))
    const sub = subscribe(a)
    const history = await take(sub, 6)
    for (let i = 5; i < 25; i++) {
      await b.append(event('remote', i))
      if (i % 4 === 0) await a.append(event('local', i))
    }
    expect((await Promise.all(relayed)).every((r) => r.status === 'accepted')).toBe(true)
    const live = await take(sub, 25)
    const items = [...history, ...live]
    expectOrderedPerNode(items)
    const bId = logDocOf(b).identity?.id as string
    const remote = entriesOf(items).filter((e) => e.node === bId)
    expect(remote.map((e) => e.seq)).toEqual([...Array(25).keys()])
    expect(remote.map((e) => e.hash)).toEqual(
      logDocOf(b)
        .range(bId, 0, 25)
        .map((e) => e.hash),
    )
    expect(entriesOf(items).filter((e) => e.node !== bId)).toHaveLength(6)
    await sub.return()
  })

  it('keeps a fast subscriber whole while a slow one drops; gap markers name exactly what the slow one missed (seeded)', async () => {
    for (const seed of [1, 2, 3]) {
      const random = seededRandom(seed)
      const { a, b, relayed } = await pair()
      const fast = subscribe(a, { after: 'now' })
      const filter = { topic: 'x', kinds: ['event'] as EntryKind[] }
      const matches = (e: Entry): boolean => e.topic === filter.topic && filter.kinds.includes(e.kind)
      const slow = { sub: subscribe(a, { after: 'now', bufferSize: 8 }), items: [] as SubscriptionItem[], match: (_: Entry) => true }
      const slowFiltered = {
        sub: subscribe(a, { after: 'now', bufferSize: 5, ...filter }),
        items: [] as SubscriptionItem[],
        match: matches,
      }
      const fastItems: SubscriptionItem[] = []
      const fastLoop = (async () => {
        for (let r = await fast.next(); r.done !== true; r = await fast.next()) fastItems.push(r.value)
      })()
      // A subscriber still has something to hand out while some node's last matching entry is past what it delivered.
      const targets = (s: typeof slow): Map<string, number> =>
        new Map(
          logDocOf(a)
            .nodes()
            .map((node) => [node, logDocOf(a).range(node).filter(s.match).pop()?.seq ?? -1]),
        )
      const drain = async (s: typeof slow, most: number): Promise<void> => {
        const target = targets(s)
        const done = new Map<string, number>()
        for (const item of s.items)
          done.set(item.kind === 'entry' ? item.entry.node : item.node, item.kind === 'entry' ? item.entry.seq : item.to)
        const behind = (): boolean => [...target].some(([node, last]) => last > (done.get(node) ?? -1))
        for (let n = 0; n < most && behind(); n++) {
          const r = await pull(s.sub)
          if (r.done === true) throw new Error('subscription ended early')
          s.items.push(r.value)
          done.set(r.value.kind === 'entry' ? r.value.entry.node : r.value.node, r.value.kind === 'entry' ? r.value.entry.seq : r.value.to)
        }
      }
      for (let round = 0; round < 40; round++) {
        const writer = random() < 0.5 ? a : b
        const burst = 1 + Math.floor(random() * 40)
        await Promise.all(
          Array.from({ length: burst }, (_, i) =>
            writer.append(event(random() < 0.6 ? 'x' : 'y', round * 100 + i, random() < 0.8 ? 'event' : 'transition')),
          ),
        )
        await Promise.all(relayed)
        await drain(slow, Math.floor(random() * 12))
        await drain(slowFiltered, Math.floor(random() * 4))
      }
      await Promise.all(relayed)
      await drain(slow, Infinity)
      await drain(slowFiltered, Infinity)
      const total = logDocOf(a)
        .nodes()
        .reduce((n, node) => n + logDocOf(a).length(node), 0)
      await until(() => fastItems.length >= total)
      await fast.return()
      await fastLoop

      const all = logDocOf(a)
        .nodes()
        .flatMap((node) => logDocOf(a).range(node))
      expect(fastItems.every((i) => i.kind === 'entry')).toBe(true)
      expect(new Set(entriesOf(fastItems).map(key))).toEqual(new Set(all.map(key)))
      expectOrderedPerNode(fastItems)
      for (const s of [slow, slowFiltered]) {
        expectOrderedPerNode(s.items)
        const gaps = s.items.filter((i): i is SubscriptionGap => i.kind === 'gap')
        expect(gaps.length).toBeGreaterThan(0)
        const delivered = entriesOf(s.items)
        expect(delivered.every(s.match)).toBe(true)
        const reread = gaps.flatMap((g) =>
          logDocOf(a)
            .range(g.node, g.from, g.to + 1)
            .filter(s.match),
        )
        // Ranges are tight (they start and end on a dropped entry), and re-reading them gives exactly the dropped ones.
        for (const g of gaps) {
          expect(s.match(logDocOf(a).get(g.node, g.from) as Entry)).toBe(true)
          expect(s.match(logDocOf(a).get(g.node, g.to) as Entry)).toBe(true)
        }
        const seen = [...delivered, ...reread].map(key)
        expect(new Set(seen).size).toBe(seen.length)
        expect(new Set(seen)).toEqual(new Set(all.filter(s.match).map(key)))
        // Adjacent drops merge: two markers of one node always have a delivered entry of that node between them.
        const lastKind = new Map<string, string>()
        for (const item of s.items) {
          const node = item.kind === 'entry' ? item.entry.node : item.node
          if (item.kind === 'gap') expect(lastKind.get(node)).not.toBe('gap')
          lastKind.set(node, item.kind)
        }
      }
      for (const sub of [slow.sub, slowFiltered.sub]) await sub.return()
    }
  })

  it('holds at most bufferSize entries and one marker for a live subscriber that never pulls', async () => {
    const durable = await open()
    const sub = subscribe(durable, { after: 'now', bufferSize: 4 })
    // The subscription's own flush was called first, so it has gone live by the time this one resolves.
    await durable.flush()
    await Promise.all(Array.from({ length: 100 }, (_, i) => durable.append(event('t', i))))
    await Promise.all(Array.from({ length: 100 }, (_, i) => durable.append(event('t', 100 + i))))
    const items = await take(sub, 5)
    expect(items.slice(0, 4).map((i) => i.kind === 'entry' && i.entry.seq)).toEqual([0, 1, 2, 3])
    expect(items[4]).toMatchObject({ kind: 'gap', from: 4, to: 199 })
    // Having pulled, it has room again: the next entry arrives whole.
    await durable.append(event('t', 200))
    expect(await take(sub, 1)).toMatchObject([{ kind: 'entry', entry: { seq: 200 } }])
    await sub.return()
  })

  it('never drops for a subscriber still reading history: it reads committed entries from the log, not a buffer', async () => {
    const durable = await open()
    await Promise.all(Array.from({ length: 10 }, (_, i) => durable.append(event('t', i))))
    const sub = subscribe(durable, { bufferSize: 4 })
    for (let i = 0; i < 5; i++) await Promise.all(Array.from({ length: 100 }, (_, j) => durable.append(event('t', 10 + i * 100 + j))))
    const items = await take(sub, 510)
    expect(items.every((i) => i.kind === 'entry')).toBe(true)
    expect(entriesOf(items).map((e) => e.seq)).toEqual([...Array(510).keys()])
    await sub.return()
  })

  it('pages history by bytes too, so large entries do not fill memory a thousand at a time', async () => {
    const durable = await open()
    await Promise.all(
      Array.from({ length: 40 }, (_, i) => durable.append({ topic: 't', kind: 'event', data: { i, pad: 'x'.repeat(60_000) } })),
    )
    const reads = vi.spyOn(logDocOf(durable), 'getBytes')
    const sub = subscribe(durable)
    await take(sub, 1)
    // About 1 MiB of 60 kB entries: 18 of them, not all 40.
    expect(reads.mock.calls.length).toBe(18)
    expect(entriesOf(await take(sub, 39)).map((e) => e.seq)).toEqual(Array.from({ length: 39 }, (_, i) => i + 1))
    await sub.return()
  })

  it('filters by topic and kinds in history and live alike', async () => {
    const durable = await open()
    const inputs = (offset: number): EntryInput[] =>
      Array.from({ length: 30 }, (_, i) => event(i % 3 === 0 ? 'x' : 'y', offset + i, i % 2 === 0 ? 'transition' : 'event'))
    for (const input of inputs(0)) await durable.append(input)
    const cases = [
      { sub: subscribe(durable, { topic: 'x' }), match: (e: Entry) => e.topic === 'x' },
      { sub: subscribe(durable, { kinds: ['transition', 'gap'] }), match: (e: Entry) => e.kind === 'transition' || e.kind === 'gap' },
      { sub: subscribe(durable, { topic: 'x', kinds: ['event'] }), match: (e: Entry) => e.topic === 'x' && e.kind === 'event' },
    ]
    const history = [...logDocOf(durable).entries()]
    const waiting: Array<Promise<IteratorResult<SubscriptionItem, undefined>>> = []
    for (const c of cases) {
      const expected = history.filter(c.match).map((e) => e.seq)
      expect(entriesOf(await take(c.sub, expected.length)).map((e) => e.seq)).toEqual(expected)
      // Caught up: this pull turns the subscription live and waits, so what follows takes the live path.
      waiting.push(c.sub.next())
    }
    await Promise.all(inputs(30).map((input) => durable.append(input)))
    await durable.append({ topic: 'x', kind: 'gap', data: { stream: 'elsewhere', from: 0, to: 3 } })
    const live = [...logDocOf(durable).entries()].slice(30)
    for (const [i, c] of cases.entries()) {
      const expected = live.filter(c.match).map((e) => e.seq)
      const first = (await waiting[i]) as IteratorResult<SubscriptionItem, undefined>
      const items = [first.value as SubscriptionItem, ...(await take(c.sub, expected.length - 1))]
      expect(entriesOf(items).map((e) => e.seq)).toEqual(expected)
      await c.sub.return()
    }
    const resumed = subscribe(durable, {
      after: new Map([[logDocOf(durable).identity?.id as string, 45]]),
      topic: 'x',
      kinds: ['transition'],
    })
    expect(await take(resumed, 1)).toMatchObject([{ entry: { seq: 48, kind: 'transition', topic: 'x' } }])
    await resumed.return()
  })

  it("starts at 'now': skips what was appended before, includes what is appended after, committed or not", async () => {
    const durable = await open()
    await durable.append(event('t', 0))
    const pendingBefore = durable.append(event('t', 1))
    const sub = subscribe(durable, { after: 'now' })
    const after = durable.append(event('t', 2))
    await Promise.all([pendingBefore, after])
    expect(await take(sub, 1)).toMatchObject([{ kind: 'entry', entry: { seq: 2 } }])
    await sub.return()
  })

  it('hands out only committed entries, also one appended while the subscription was starting', async () => {
    const store = new GatedStore()
    const durable = await DurableLog.open({ identity: NodeIdentity.generate(), store })
    const appended = [durable.append(event('t', 0))]
    const sub = subscribe(durable)
    const pullNoting = (): Promise<{ r: IteratorResult<SubscriptionItem, undefined>; committedThen: number }> =>
      sub.next().then((r) => ({ r, committedThen: store.committed }))
    const first = pullNoting()
    await until(() => store.waiting > 0)
    // Appended while entry 0's commit is in flight: still pending when the subscription's start-up flush resolves.
    appended.push(durable.append(event('t', 1)))
    store.release()
    expect(await first).toMatchObject({ r: { value: { entry: { seq: 0 } } }, committedThen: 1 })
    const second = pullNoting()
    await until(() => store.waiting > 0)
    store.release()
    expect(await second).toMatchObject({ r: { value: { entry: { seq: 1 } } }, committedThen: 2 })
    await Promise.all(appended)
    await sub.return()
  })

  it('skips positions its start cursor already passed, even when the log has not reached them yet', async () => {
    const durable = await open()
    const id = logDocOf(durable).identity?.id as string
    for (let i = 0; i < 3; i++) await durable.append(event('t', i))
    const sub = subscribe(durable, { after: new Map([[id, 5]]) })
    await durable.flush()
    for (let i = 3; i < 7; i++) await durable.append(event('t', i))
    expect(entriesOf(await take(sub, 2)).map((e) => e.seq)).toEqual([5, 6])
    await sub.return()
  })
})
