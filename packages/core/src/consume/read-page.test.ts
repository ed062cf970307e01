import { describe, expect, it } from 'vitest'
import { DurableLog } from '../durable/durable-log.js'
import { NodeIdentity } from '../entry/identity.js'
import { MemoryUpdateStore } from '../durable/memory-update-store.js'
import { readPage, type PageQuery } from './read-page.js'
import type { Entry } from '../entry/entry.js'
import { logDocOf } from '../durable/committed-log.js'

/** Two writers, the second's entries synced into the first, with controlled clocks. */
async function twoNodes(count: number): Promise<{ durable: DurableLog; other: DurableLog }> {
  let now = 1000
  const clock = (): number => (now += 10)
  const durable = await DurableLog.open({ identity: NodeIdentity.generate(), store: new MemoryUpdateStore(), now: clock })
  const other = await DurableLog.open({ identity: NodeIdentity.generate(), store: new MemoryUpdateStore(), now: clock })
  other.onCommit((_info, updates) => {
    for (const update of updates) void durable.applyRemote(update)
  })
  for (let i = 0; i < count; i++) {
    const writer = i % 3 === 0 ? other : durable
    const topic = i % 4 === 0 ? 'rare' : 'common'
    await writer.append(
      i % 5 === 0
        ? { topic, kind: 'transition', data: { subject: 's', from: 'a', to: 'b', event: `${i}` } }
        : { topic, kind: 'event', data: i },
    )
  }
  await durable.flush()
  return { durable, other }
}

async function readAllPages(durable: DurableLog, query: Omit<PageQuery, 'after'>): Promise<{ entries: Entry[]; pages: number }> {
  const entries: Entry[] = []
  let after: PageQuery['after']
  for (let pages = 1; ; pages++) {
    const page = await readPage(durable, { ...query, after })
    entries.push(...page.entries)
    if (page.entries.length === 0) return { entries, pages }
    after = page.next
  }
}

const key = (e: Entry): string => `${e.node}:${e.seq}`

describe('readPage', () => {
  it('pages through every node exactly once in (node, seq) order', async () => {
    const { durable } = await twoNodes(60)
    const all = [...logDocOf(durable).entries()]
    expect(all).toHaveLength(60)
    const { entries, pages } = await readAllPages(durable, { limit: 7 })
    expect(entries.map(key)).toEqual(all.map(key))
    expect(pages).toBe(Math.ceil(60 / 7) + 1)
  })

  it('filters by time, topic and kind through the index, skipping what it scanned', async () => {
    const { durable } = await twoNodes(60)
    const all = [...logDocOf(durable).entries()]
    const since = 1000 + 10 * 30
    expect((await readAllPages(durable, { since, limit: 4 })).entries.map(key)).toEqual(all.filter((e) => e.at >= since).map(key))
    expect((await readAllPages(durable, { topic: 'rare', limit: 4 })).entries.map(key)).toEqual(
      all.filter((e) => e.topic === 'rare').map(key),
    )
    expect((await readAllPages(durable, { kind: 'transition', topic: 'rare', limit: 2 })).entries.map(key)).toEqual(
      all.filter((e) => e.kind === 'transition' && e.topic === 'rare').map(key),
    )
    // A page that found fewer than its limit moves the cursor to the end of every node it scanned.
    const page = await readPage(durable, { topic: 'rare', limit: 1000 })
    for (const node of logDocOf(durable).nodes()) expect(page.next.get(node)).toBe(logDocOf(durable).length(node))
    expect((await readPage(durable, { topic: 'rare', limit: 1000, after: page.next })).entries).toEqual([])
  })

  it('ends a page early at maxBytes, and paging still returns everything once', async () => {
    const { durable } = await twoNodes(60)
    const all = [...logDocOf(durable).entries()]
    const small = await readAllPages(durable, { limit: 50, maxBytes: 1500 })
    expect(small.entries.map(key)).toEqual(all.map(key))
    expect(small.pages).toBeGreaterThan(3)
    const filtered = await readAllPages(durable, { limit: 50, maxBytes: 1, topic: 'common' })
    expect(filtered.entries.map(key)).toEqual(all.filter((e) => e.topic === 'common').map(key))
    expect(filtered.pages).toBe(filtered.entries.length + 1)
  })

  it('never shows an entry before it is committed', async () => {
    const durable = await DurableLog.open({ identity: NodeIdentity.generate(), store: new MemoryUpdateStore() })
    await durable.append({ topic: 't', kind: 'event', data: 0 })
    const pending = durable.append({ topic: 't', kind: 'event', data: 1 })
    expect(logDocOf(durable).length(logDocOf(durable).identity?.id ?? '')).toBe(2)
    expect((await readPage(durable, { limit: 10 })).entries.map((e) => e.seq)).toEqual([0])
    expect((await readPage(durable, { limit: 10, kind: 'event' })).entries.map((e) => e.seq)).toEqual([0])
    await pending
    expect((await readPage(durable, { limit: 10 })).entries.map((e) => e.seq)).toEqual([0, 1])
  })

  it('refuses a limit below 1', async () => {
    const durable = await DurableLog.open({ identity: NodeIdentity.generate(), store: new MemoryUpdateStore() })
    await expect(readPage(durable, { limit: 0 })).rejects.toMatchObject({ code: 'BAD_ARGUMENT' })
  })
})
