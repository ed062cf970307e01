/**
 * The contracts a NodeStore backend keeps, one vitest suite per job: the
 * update log (`describeUpdateStore`), the read index (`describeEntryIndex`)
 * and the node tables (`describeNodeTables`). A backend's tests call each,
 * e.g. `describeUpdateStore('SqliteUpdateStore', () => open...)`;
 * `describeNodeStore` calls all three.
 */
import * as Y from 'yjs'
import { describe, expect, it } from 'vitest'
import { NodeIdentity } from '../entry/identity.js'
import { LogDoc } from '../doc/log-doc.js'
import { DurableLog } from '../durable/durable-log.js'
import type { NodeStore, UpdateRecord } from '../durable/update-store.js'
import { logDocOf } from '../durable/committed-log.js'

export { craftAppend, fingerprint, GatedStore, seededRandom, waitFor } from './test-support.js'
export { FaultyStore, FAULTS, type FaultPoint } from './faulty-store.js'

export interface StoreFactory {
  /** A new, empty store. */
  create(): Promise<NodeStore>
  /** Opens the store `create` made last, again (after close): a restart. */
  reopen(): Promise<NodeStore>
}

/** Every contract a NodeStore backend keeps. */
export function describeNodeStore(name: string, factory: () => StoreFactory): void {
  describeUpdateStore(name, factory)
  describeEntryIndex(name, factory)
  describeNodeTables(name, factory)
}

export function describeUpdateStore(name: string, factory: () => StoreFactory): void {
  describe(`${name} keeps the UpdateStore contract`, () => {
    it('loads nothing when new', async () => {
      const f = factory()
      const store = await f.create()
      expect(await store.load()).toEqual({ snapshot: [], tail: [], lastId: 0 })
      await store.close()
    })

    it('replays every committed update after a reopen, in order', async () => {
      const f = factory()
      const identity = NodeIdentity.generate()
      const durable = await DurableLog.open({ identity, store: await f.create() })
      const entries = await Promise.all(
        Array.from({ length: 300 }, (_, i) => durable.append({ topic: `t${i % 3}`, kind: 'event', data: { i } })),
      )
      expect(entries.map((e) => e.seq)).toEqual([...Array(300).keys()])
      await durable.close()
      const again = await DurableLog.open({ identity, store: await f.reopen() })
      expect(logDocOf(again).length(identity.id)).toBe(300)
      expect([...logDocOf(again).entries()]).toEqual([...logDocOf(durable).entries()])
      expect((await again.append({ topic: 't', kind: 'event', data: 'next' })).seq).toBe(300)
      await again.close()
    })

    it('compacts atomically: snapshot plus tail replays to the same state', async () => {
      const f = factory()
      const identity = NodeIdentity.generate()
      const durable = await DurableLog.open({ identity, store: await f.create(), compactAfterUpdates: 50 })
      for (let i = 0; i < 120; i++) await durable.append({ topic: 't', kind: 'event', data: i })
      const stats = await durable.storeStats()
      expect(stats.snapshotBytes).toBeGreaterThan(0)
      expect(stats.updates).toBeLessThan(50)
      await durable.close()
      const store = await f.reopen()
      const state = await store.load()
      // Two compactions (after 50 and 100 updates), each adding only what was new.
      expect(state.snapshot).toHaveLength(2)
      // 20 updates follow the second compaction; a store may hold runs of one node's updates merged (fewer, the same structs).
      expect(state.tail.length).toBeGreaterThan(0)
      expect(state.tail.length).toBeLessThanOrEqual(20)
      const replica = new LogDoc()
      replica.loadTrusted(state.snapshot, 'v2')
      for (const u of state.tail) replica.loadTrusted(u)
      expect([...replica.heads()]).toEqual([...logDocOf(durable).heads()])
      await store.close()
    })

    it('adds parts to the snapshot in order, and compacts with no parts (nothing new)', async () => {
      const f = factory()
      const store = await f.create()
      const w = new LogDoc({ identity: NodeIdentity.generate() })
      const updates: Uint8Array[] = []
      w.onUpdate((u) => updates.push(u))
      for (let i = 0; i < 6; i++) w.append({ topic: 't', kind: 'event', data: i })
      const records = updates.map((update) => ({ update, entries: [] }))
      const parts = updates.map((u) => Y.convertUpdateFormatV1ToV2(u))
      // Copies: a store may take over the buffers it is given.
      const copies = (from: number, to: number): Uint8Array[] => parts.slice(from, to).map((p) => p.slice())
      await store.append(records.slice(0, 2))
      await store.compact(copies(0, 2), 2)
      await store.append(records.slice(2, 4))
      await store.compact(copies(2, 4), 4)
      await store.compact([], 4)
      await store.append(records.slice(4))
      const state = await store.load()
      expect(state.snapshot.map((p) => Buffer.from(p).toString('hex'))).toEqual(
        parts.slice(0, 4).map((p) => Buffer.from(p).toString('hex')),
      )
      expect(state.tail).toHaveLength(2)
      expect(state.lastId).toBe(6)
      const replica = new LogDoc()
      replica.loadTrusted(state.snapshot, 'v2')
      for (const u of state.tail) replica.loadTrusted(u)
      expect(replica.verifyChains()).toEqual({ ok: true, entries: 6 })
      expect((await store.stats()).snapshotBytes).toBe(parts.slice(0, 4).reduce((n, p) => n + p.byteLength, 0))
      await store.close()
    })

    it('refuses to compact beyond the last update id', async () => {
      const f = factory()
      const store = await f.create()
      await expect(store.compact([], 1)).rejects.toMatchObject({ code: 'BAD_ARGUMENT' })
      await store.close()
    })
  })
}

export function describeEntryIndex(name: string, factory: () => StoreFactory): void {
  describe(`${name} keeps the EntryIndex contract`, () => {
    it('answers index queries by cursor, time, topic and kind', async () => {
      const f = factory()
      let now = 1000
      const identity = NodeIdentity.generate()
      const store = await f.create()
      const durable = await DurableLog.open({ identity, store, now: () => (now += 10) })
      for (let i = 0; i < 20; i++) {
        const topic = i % 2 ? 'odd' : 'even'
        await durable.append(
          i % 5 ? { topic, kind: 'event', data: i } : { topic, kind: 'transition', data: { subject: 's', from: 'a', to: 'b', event: 'e' } },
        )
      }
      expect(await store.query({ limit: 100 })).toHaveLength(20)
      expect((await store.query({ after: new Map([[identity.id, 15]]), limit: 100 })).map((r) => r.seq)).toEqual([15, 16, 17, 18, 19])
      expect((await store.query({ topic: 'odd', limit: 3 })).map((r) => r.seq)).toEqual([1, 3, 5])
      expect((await store.query({ kind: 'transition', limit: 100 })).map((r) => r.seq)).toEqual([0, 5, 10, 15])
      expect((await store.query({ since: 1000 + 10 * 18, limit: 100 })).map((r) => r.seq)).toEqual([17, 18, 19])
      await durable.close()
    })

    it('answers newest first, within until and before, paging back without repeats', async () => {
      const f = factory()
      const store = await f.create()
      const [a, b] = [NodeIdentity.generate(), NodeIdentity.generate()].sort((x, y) => (x.id < y.id ? -1 : 1)) as [
        NodeIdentity,
        NodeIdentity,
      ]
      // Two writers, ten entries each, `at` tying across them: order falls back to node text, then seq.
      const records: UpdateRecord[] = []
      for (const identity of [a, b]) {
        const w = new LogDoc({ identity })
        w.onUpdate((update) => records.push({ update, entries: [] }))
        for (let i = 0; i < 10; i++) {
          const at = 1000 + Math.floor(i / 2) * 10
          const topic = i % 2 ? 'odd' : 'even'
          const subject = `s${i % 2}`
          w.append(
            i % 3
              ? { topic, kind: 'event', data: i, at }
              : { topic, kind: 'transition', data: { subject, from: 'a', to: 'b', event: 'e' }, at },
          )
          const row = { node: identity.id, seq: i, at, topic }
          ;(records.at(-1) as UpdateRecord).entries.push(i % 3 ? { ...row, kind: 'event' } : { ...row, kind: 'transition', subject })
        }
      }
      await store.append(records)
      const all = records.flatMap((r) => r.entries)
      const key = (r: { node: string; seq: number }): string => `${r.node === a.id ? 'a' : 'b'}${r.seq}`
      const at = (r: { node: string; seq: number }): number => (all.find((x) => x.node === r.node && x.seq === r.seq) as { at: number }).at
      const newest = await store.query({ newestFirst: true, limit: 5 })
      expect(newest.map(key)).toEqual(['b9', 'b8', 'a9', 'a8', 'b7'])
      // Page back from the last position until nothing is left: every entry once, newest first.
      const pages: string[] = []
      let before: { at: number; node: string; seq: number } | undefined
      for (;;) {
        const page = await store.query({ newestFirst: true, limit: 3, ...(before && { before }) })
        if (page.length === 0) break
        pages.push(...page.map(key))
        const last = page.at(-1) as { node: string; seq: number }
        before = { ...last, at: at(last) }
      }
      const expected = [...all].sort((x, y) => y.at - x.at || (x.node < y.node ? 1 : x.node > y.node ? -1 : y.seq - x.seq)).map(key)
      expect(pages).toEqual(expected)
      expect((await store.query({ until: 1010, limit: 100 })).map(key)).toEqual(['a0', 'a1', 'b0', 'b1'])
      expect((await store.query({ since: 1030, until: 1040, newestFirst: true, limit: 100 })).map(key)).toEqual(['b7', 'b6', 'a7', 'a6'])
      expect((await store.query({ topic: 'odd', newestFirst: true, limit: 2 })).map(key)).toEqual(['b9', 'a9'])
      expect((await store.query({ kind: 'transition', until: 1020, newestFirst: true, limit: 100 })).map(key)).toEqual([
        'b3',
        'a3',
        'b0',
        'a0',
      ])
      await expect(store.query({ newestFirst: true, after: new Map(), limit: 1 })).rejects.toMatchObject({ code: 'BAD_ARGUMENT' })
      await store.close()
    })

    it('finds the transitions of one subject, in node order or newest first, across a reopen', async () => {
      const f = factory()
      const identity = NodeIdentity.generate()
      let now = 1000
      const durable = await DurableLog.open({ identity, store: await f.create(), now: () => (now += 10) })
      for (let i = 0; i < 30; i++) {
        const subject = `story-${i % 3}`
        await durable.append(
          i % 4 === 3
            ? { topic: 'p', kind: 'event', data: { subject } }
            : { topic: 'p', kind: 'transition', data: { subject, from: 'a', to: 'b', event: 'e' } },
        )
      }
      await durable.close()
      const store = await f.reopen()
      const seqs = (rows: Array<{ seq: number }>): number[] => rows.map((r) => r.seq)
      // Events with a `subject` field in their data are not transitions: 3, 15 and 27 are left out.
      expect(seqs(await store.query({ subject: 'story-0', limit: 100 }))).toEqual([0, 6, 9, 12, 18, 21, 24])
      expect(seqs(await store.query({ subject: 'story-0', newestFirst: true, limit: 3 }))).toEqual([24, 21, 18])
      // Entry `seq` has at = 1010 + 10 * seq: since 1100 until 1200 is seqs 9 to 18.
      expect(seqs(await store.query({ subject: 'story-0', since: 1100, until: 1200, limit: 100 }))).toEqual([9, 12, 18])
      expect(await store.query({ subject: 'story-9', limit: 100 })).toEqual([])
      await store.close()
    })

    it('indexes exactly what append wrote, across a reopen', async () => {
      const f = factory()
      const identity = NodeIdentity.generate()
      const durable = await DurableLog.open({ identity, store: await f.create() })
      for (let i = 0; i < 5; i++) await durable.append({ topic: 'x', kind: 'event', data: i })
      await durable.close()
      const store = await f.reopen()
      expect(await store.query({ topic: 'x', limit: 100 })).toEqual([0, 1, 2, 3, 4].map((seq) => ({ node: identity.id, seq })))
      expect(await store.query({ topic: 'y', limit: 100 })).toEqual([])
      await store.close()
    })
  })
}

export function describeNodeTables(name: string, factory: () => StoreFactory): void {
  describe(`${name} keeps the NodeTables contract`, () => {
    it('writes an idempotency record with its update, and finds it after a reopen', async () => {
      const f = factory()
      const store = await f.create()
      const w = new LogDoc({ identity: NodeIdentity.generate() })
      const updates: Uint8Array[] = []
      w.onUpdate((u) => updates.push(u))
      w.append({ topic: 't', kind: 'event', data: 1 })
      const requestHash = new Uint8Array(32).fill(7)
      const record = { key: 'order-17', requestHash, node: w.identity?.id ?? '', seq: 0, count: 1 }
      await store.append([{ update: updates[0] as Uint8Array, entries: [], idempotency: record }])
      expect(await store.findIdempotency('order-18')).toBeUndefined()
      await store.close()
      const again = await f.reopen()
      const found = await again.findIdempotency('order-17')
      expect(found && { ...found, requestHash: [...found.requestHash] }).toEqual({ ...record, requestHash: [...requestHash] })
      await again.close()
    })

    it('forgets idempotency keys whose first entry is older than the cut, and lets a forgotten key be taken again', async () => {
      const f = factory()
      const store = await f.create()
      const w = new LogDoc({ identity: NodeIdentity.generate() })
      const records: UpdateRecord[] = []
      w.onUpdate((update) => records.push({ update, entries: [] }))
      const node = w.identity?.id ?? ''
      for (const [i, at] of [1000, 2000, 3000].entries()) {
        w.append({ topic: 't', kind: 'event', data: i, at })
        const record = records[i] as UpdateRecord
        record.entries.push({ node, seq: i, at, topic: 't', kind: 'event' })
        record.idempotency = { key: `k${i}`, requestHash: new Uint8Array(32).fill(i), node, seq: i, count: 1 }
      }
      await store.append(records)
      expect(await store.pruneIdempotency(2500)).toBe(2)
      expect(await store.findIdempotency('k0')).toBeUndefined()
      expect(await store.findIdempotency('k1')).toBeUndefined()
      expect((await store.findIdempotency('k2'))?.seq).toBe(2)
      expect(await store.pruneIdempotency(2500)).toBe(0)
      // The forgotten key names a new request now.
      w.append({ topic: 't', kind: 'event', data: 3, at: 4000 })
      await store.append([
        {
          update: records[3]?.update as Uint8Array,
          entries: [{ node, seq: 3, at: 4000, topic: 't', kind: 'event' }],
          idempotency: { key: 'k0', requestHash: new Uint8Array(32).fill(9), node, seq: 3, count: 1 },
        },
      ])
      await store.close()
      const again = await f.reopen()
      expect((await again.findIdempotency('k0'))?.seq).toBe(3)
      await again.close()
    })

    it('keeps consumer positions across a reopen, the last write winning', async () => {
      const f = factory()
      const store = await f.create()
      expect(await store.readConsumer('billing')).toBeUndefined()
      await store.writeConsumer({ name: 'billing', cursor: 'c1.first', ackedAt: 1 })
      await store.writeConsumer({ name: 'billing', cursor: 'c1.second', ackedAt: 2 })
      await store.writeConsumer({ name: 'audit', cursor: 'c1.other', ackedAt: 3 })
      await store.close()
      const again = await f.reopen()
      expect(await again.readConsumer('billing')).toEqual({ name: 'billing', cursor: 'c1.second', ackedAt: 2 })
      expect(await again.readConsumer('audit')).toEqual({ name: 'audit', cursor: 'c1.other', ackedAt: 3 })
      await again.close()
    })

    it("keeps a consumer's topic and kind filter with its position, and forgets it when a write leaves it out", async () => {
      const f = factory()
      const store = await f.create()
      await store.writeConsumer({ name: 'builds', cursor: 'c1.a', ackedAt: 1, topic: 'pipeline.build', kind: 'transition' })
      await store.writeConsumer({ name: 'gaps', cursor: 'c1.b', ackedAt: 2, kind: 'gap' })
      await store.writeConsumer({ name: 'dropped', cursor: 'c1.c', ackedAt: 3, topic: 'old' })
      await store.writeConsumer({ name: 'dropped', cursor: 'c1.d', ackedAt: 4 })
      await store.close()
      const again = await f.reopen()
      expect(await again.readConsumer('builds')).toEqual({
        name: 'builds',
        cursor: 'c1.a',
        ackedAt: 1,
        topic: 'pipeline.build',
        kind: 'transition',
      })
      expect(await again.readConsumer('gaps')).toEqual({ name: 'gaps', cursor: 'c1.b', ackedAt: 2, kind: 'gap' })
      expect(await again.readConsumer('dropped')).toEqual({ name: 'dropped', cursor: 'c1.d', ackedAt: 4 })
      await again.close()
    })
  })
}
