// A move merges runs of one node's single appends into one update (mergeRuns): fewer rows,
// the same log, ids that go on as before, and readers and compactions that stop inside a run.
import Database from 'better-sqlite3'
import * as Y from 'yjs'
import { afterAll, describe, expect, it } from 'vitest'
import { DurableLog, LogDoc, NodeIdentity } from '@ylog/core'
import { SqliteUpdateStore, StoreReader } from './index.js'
import { tempPaths } from './test-support.js'

const { freshPath, cleanup } = tempPaths()
afterAll(cleanup)

const rowIds = (path: string): number[] => {
  const db = new Database(path, { readonly: true })
  try {
    return db.prepare('SELECT id FROM updates ORDER BY id').pluck().all() as number[]
  } finally {
    db.close()
  }
}

describe('moving the append journal', () => {
  it("merges a run of one node's appends into one row that keeps the run's last id", async () => {
    const path = freshPath()
    const store = SqliteUpdateStore.open(path, { appendJournal: { flushUpdates: 10 } })
    const identity = NodeIdentity.generate()
    const durable = await DurableLog.open({ identity, store })
    const reader = StoreReader.open(path)
    const follower = new LogDoc()
    const follow = (): void => {
      const delta = reader.read()
      follower.loadTrusted(delta.snapshot, 'v2')
      for (const update of delta.tail) follower.loadTrusted(update)
    }
    for (let i = 0; i < 5; i++) await durable.append({ topic: 't', kind: 'event', data: i })
    follow() // inside the first run, from the journal
    for (let i = 5; i < 15; i++) await durable.append({ topic: 't', kind: 'event', data: i })
    const at15 = await store.load()
    const committedAt15 = durable.encodeCommitted()
    for (let i = 15; i < 25; i++) await durable.append({ topic: 't', kind: 'event', data: i })

    const moved = rowIds(path)
    expect(moved.length).toBeGreaterThan(0)
    expect(moved.length).toBeLessThan(moved.at(-1) as number)
    expect(await store.append([])).toBe((await store.load()).lastId)
    follow() // the rest: the merged rows repeat what it read from the journal, which changes nothing
    expect(follower.length(identity.id)).toBe(25)
    expect(follower.verifyChains()).toEqual({ ok: true, entries: 25 })

    // A compaction up to an id inside a merged run keeps that run's row whole: the snapshot and it overlap.
    const straddled = moved.find((id) => id > at15.lastId)
    expect(straddled).toBeDefined()
    await store.compact([Y.convertUpdateFormatV1ToV2(committedAt15)], at15.lastId)
    expect(rowIds(path)).toContain(straddled)
    const state = await store.load()
    const replica = new LogDoc()
    replica.loadTrusted(state.snapshot, 'v2')
    for (const update of state.tail) replica.loadTrusted(update)
    expect(replica.length(identity.id)).toBe(25)
    expect(replica.verifyChains()).toEqual({ ok: true, entries: 25 })

    reader.close()
    await durable.close()
    const again = await DurableLog.open({ identity, store: SqliteUpdateStore.open(path) })
    expect((await again.append({ topic: 't', kind: 'event', data: 25 })).seq).toBe(25)
    await again.close()
  })

  it('does not merge across nodes or an idempotency key, and keeps what it cannot merge as it came', async () => {
    const path = freshPath()
    const store = SqliteUpdateStore.open(path, { appendJournal: { flushUpdates: 100 } })
    const a = await DurableLog.open({ identity: NodeIdentity.generate(), store })
    for (let i = 0; i < 3; i++) await a.append({ topic: 't', kind: 'event', data: i })
    await a.append({ topic: 't', kind: 'event', data: 'keyed' }, { idempotency: { key: 'k', requestHash: new Uint8Array(32) } })
    for (let i = 0; i < 3; i++) await a.append({ topic: 't', kind: 'event', data: i })
    const before = await store.load()
    store.moveJournal()
    const rows = rowIds(path)
    // Three runs: the three before the key, the keyed append on its own, the three after.
    expect(rows.length).toBeLessThan(before.tail.length)
    expect(rows.at(-1)).toBe(before.lastId)
    expect(await store.findIdempotency('k')).toMatchObject({ key: 'k', count: 1 })
    await a.close()
  })
})
