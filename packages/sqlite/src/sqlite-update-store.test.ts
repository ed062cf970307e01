import { join } from 'node:path'
import Database from 'better-sqlite3'
import * as Y from 'yjs'
import { afterAll, describe, expect, it } from 'vitest'
import { DurableLog, MemoryUpdateStore, NodeIdentity, type IndexQuery, type NodeStore } from '@ylog/core'
import { describeNodeStore } from '@ylog/core/testing'
import { SCHEMA_VERSION, SqliteUpdateStore } from './index.js'
import {
  appendEntries,
  downgradeToSchema3,
  downgradeToSchema4,
  downgradeToSchema6,
  expectStoreError,
  tempPaths,
  writer,
} from './test-support.js'

const { freshPath, cleanup } = tempPaths()
afterAll(cleanup)

describeNodeStore('SqliteUpdateStore', () => {
  let path = ''
  return {
    create: async () => SqliteUpdateStore.open((path = freshPath())),
    reopen: async () => SqliteUpdateStore.open(path),
  }
})

describe('SqliteUpdateStore', () => {
  it('migrates schema 1 and schema 2 stores in place, keeping their logs (updates from before schema 3 carry no CRC)', async () => {
    for (const from of [1, 2]) {
      const path = freshPath()
      const identity = NodeIdentity.generate()
      const durableStore = SqliteUpdateStore.open(path)
      const durable = await DurableLog.open({ identity, store: durableStore })
      await appendEntries(durable, 10)
      await durable.close()
      // Schema 2 is schema 3 without the CRC column; schema 1 also lacks the side tables.
      const db = new Database(path)
      downgradeToSchema3(db)
      db.exec('ALTER TABLE updates DROP COLUMN crc32')
      if (from === 1) db.exec('DROP TABLE idempotency; DROP TABLE consumers')
      db.pragma(`user_version = ${from}`)
      db.close()
      const againStore = SqliteUpdateStore.open(path)
      const again = await DurableLog.open({ identity, store: againStore })
      expect(again.committedLength(identity.id)).toBe(10)
      await againStore.writeConsumer({ name: 'c', cursor: 'c1.x', ackedAt: 5 })
      expect(await againStore.readConsumer('c')).toEqual({ name: 'c', cursor: 'c1.x', ackedAt: 5 })
      await again.append({ topic: 'after', kind: 'event', data: from })
      await again.close()
      const check = new Database(path, { readonly: true })
      expect(check.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION)
      const crcs = check.prepare('SELECT crc32 FROM updates ORDER BY id').pluck().all()
      expect(crcs.at(-1)).toEqual(expect.any(Number))
      expect(crcs.slice(0, -1).every((c) => c === null)).toBe(true)
      check.close()
      const reopened = SqliteUpdateStore.open(path)
      expect(reopened.checkIntegrity()).toEqual({ ok: true, problems: [] })
      await reopened.close()
    }
  })

  it('migrates a schema 3 store: its one snapshot blob becomes the first part, and compaction adds to it', async () => {
    const path = freshPath()
    const identity = NodeIdentity.generate()
    const durableStore = SqliteUpdateStore.open(path)
    const durable = await DurableLog.open({ identity, store: durableStore, compactAfterUpdates: 1_000_000 })
    await appendEntries(durable, 30)
    const { lastId } = await durableStore.load()
    // Schema 3's compaction wrote the whole document as one v2 blob.
    await durableStore.compact([Y.convertUpdateFormatV1ToV2(durable.encodeCommitted())], lastId)
    await appendEntries(durable, 5)
    const before = await durableStore.load()
    await durable.close()
    const db = new Database(path)
    downgradeToSchema3(db)
    expect(db.prepare('SELECT up_to FROM snapshot').pluck().get()).toBe(lastId)
    db.close()

    const againStore = SqliteUpdateStore.open(path)

    const again = await DurableLog.open({ identity, store: againStore })
    expect(await againStore.load()).toEqual(before)
    expect(again.committedLength(identity.id)).toBe(35)
    await again.compact()
    const after = await againStore.load()
    expect(after.snapshot).toHaveLength(2)
    expect(after.tail).toEqual([])
    await again.close()
    const reopenedStore = SqliteUpdateStore.open(path)
    const reopened = await DurableLog.open({ identity, store: reopenedStore, verify: 'full' })
    expect([...reopened.entries()]).toEqual([...again.entries()])
    expect(reopenedStore.checkIntegrity()).toEqual({ ok: true, problems: [] })
    await reopened.close()
  })

  it('migrates a schema 4 store: transitions already stored get their subjects, from the snapshot and the tail', async () => {
    const path = freshPath()
    const identity = NodeIdentity.generate()
    const durableStore = SqliteUpdateStore.open(path)
    const durable = await DurableLog.open({ identity, store: durableStore, compactAfterUpdates: 1_000_000 })
    const transition = (i: number) => ({
      topic: 'p',
      kind: 'transition' as const,
      data: { subject: `story-${i % 2}`, from: 'a', to: 'b', event: 'e' },
    })
    for (let i = 0; i < 6; i++) await durable.append(transition(i))
    await durable.compact()
    for (let i = 6; i < 10; i++) await durable.append(i === 8 ? { topic: 'p', kind: 'event', data: i } : transition(i))
    await durable.close()
    const db = new Database(path)
    downgradeToSchema4(db)
    db.close()
    const store = SqliteUpdateStore.open(path)
    expect((await store.query({ subject: 'story-0', limit: 100 })).map((r) => r.seq)).toEqual([0, 2, 4, 6])
    expect((await store.query({ subject: 'story-1', newestFirst: true, limit: 100 })).map((r) => r.seq)).toEqual([9, 7, 5, 3, 1])
    await store.close()
  })

  it('upgrades a schema 6 store: its consumers keep their positions and read everything', async () => {
    const path = freshPath()
    const store = SqliteUpdateStore.open(path)
    await store.writeConsumer({ name: 'billing', cursor: 'c1.x', ackedAt: 5 })
    await store.close()
    const db = new Database(path)
    downgradeToSchema6(db)
    db.close()
    const again = SqliteUpdateStore.open(path)
    expect(await again.readConsumer('billing')).toEqual({ name: 'billing', cursor: 'c1.x', ackedAt: 5 })
    await again.writeConsumer({ name: 'billing', cursor: 'c1.y', ackedAt: 6, topic: 't', kind: 'event' })
    expect(await again.readConsumer('billing')).toEqual({ name: 'billing', cursor: 'c1.y', ackedAt: 6, topic: 't', kind: 'event' })
    await again.close()
  })

  it('refuses at load an update whose bytes no longer match their CRC-32, naming the file and the update', async () => {
    const path = freshPath()
    const identity = NodeIdentity.generate()
    const durableStore = SqliteUpdateStore.open(path)
    const durable = await DurableLog.open({ identity, store: durableStore })
    await appendEntries(durable, 3)
    await durable.close()
    const db = new Database(path)
    const row = db.prepare('SELECT id, bytes FROM updates ORDER BY id LIMIT 1').get() as { id: number; bytes: Buffer }
    row.bytes[row.bytes.length >> 1] = (row.bytes[row.bytes.length >> 1] as number) ^ 0x10
    db.prepare('UPDATE updates SET bytes = ? WHERE id = ?').run(row.bytes, row.id)
    db.close()
    const store = SqliteUpdateStore.open(path)
    const err = await expectStoreError(
      () => store.load(),
      'STORE_CORRUPT',
      new RegExp(`update ${row.id} \\(\\d+ bytes\\) fails its CRC-32 check`),
    )
    expect(err.message).toContain(path)
    const report = store.checkIntegrity()
    expect(report.ok).toBe(false)
    expect(report.problems.join('\n')).toMatch(/CRC-32/)
    await store.close()
  })

  it('creates a fresh store in a missing directory, with its schema version and application id', async () => {
    const path = join(freshPath('unused'), '..', 'nested', 'deeper', 'log.db')
    const store = SqliteUpdateStore.open(path)
    expect(await store.load()).toEqual({ snapshot: [], tail: [], lastId: 0 })
    await store.close()
    const db = new Database(path, { readonly: true })
    expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION)
    expect(db.pragma('application_id', { simple: true })).toBe(0x796c6f67)
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal')
    db.close()
  })

  it('never reuses update ids after compaction and reopen', async () => {
    const path = freshPath()
    const identity = NodeIdentity.generate()
    const durableStore = SqliteUpdateStore.open(path)
    const durable = await DurableLog.open({ identity, store: durableStore })
    await appendEntries(durable, 5)
    const state = await durableStore.load()
    expect(state.lastId).toBeGreaterThan(0)
    await durableStore.compact([Y.convertUpdateFormatV1ToV2(durable.encodeCommitted())], state.lastId)
    expect((await durableStore.stats()).updates).toBe(0)
    await durable.close()

    const store = SqliteUpdateStore.open(path)
    const reloaded = await store.load()
    expect(reloaded.tail).toEqual([])
    expect(reloaded.lastId).toBe(state.lastId)
    const next = await store.append([{ update: Uint8Array.of(0, 0), entries: [] }])
    expect(next).toBe(state.lastId + 1)
    expect(await store.append([])).toBe(next)
    expect((await store.load()).tail).toHaveLength(1)
    await store.close()
  })

  it('accepts both durability modes and refuses anything else by name', async () => {
    for (const durability of ['full', 'normal'] as const) {
      const path = freshPath()
      const store = SqliteUpdateStore.open(path, { durability })
      expect(store.durability).toBe(durability)
      await store.append([{ update: Uint8Array.of(1, 2, 3), entries: [] }])
      await store.close()
      const again = SqliteUpdateStore.open(path, { durability })
      expect((await again.load()).tail).toEqual([Uint8Array.of(1, 2, 3)])
      await again.close()
    }
    expect(SqliteUpdateStore.open(freshPath()).durability).toBe('full')
    const bad = { durability: 'fast' } as unknown as { durability: 'full' }
    await expectStoreError(
      () => SqliteUpdateStore.open(freshPath(), bad),
      'BAD_ARGUMENT',
      /durability must be "full".*"normal".*got "fast"/,
    )
  })

  it('refuses every call after close, and closing twice is harmless', async () => {
    const store = SqliteUpdateStore.open(freshPath())
    await store.close()
    await store.close()
    await expectStoreError(() => store.load(), 'CLOSED', /closed/)
    await expectStoreError(() => store.append([]), 'CLOSED', /closed/)
    await expectStoreError(() => store.query({ limit: 1 }), 'CLOSED', /closed/)
    await expectStoreError(() => store.stats(), 'CLOSED', /closed/)
    await expectStoreError(() => store.checkIntegrity(), 'CLOSED', /closed/)
  })

  it('reports sizes from the files on disk', async () => {
    const store = SqliteUpdateStore.open(freshPath())
    await store.append([
      { update: new Uint8Array(1000), entries: [] },
      { update: new Uint8Array(24), entries: [] },
    ])
    const stats = await store.stats()
    expect(stats).toMatchObject({ updates: 2, updateBytes: 1024, snapshotBytes: 0 })
    expect(stats.totalBytes).toBeGreaterThan(1024)
    expect(store.checkIntegrity()).toEqual({ ok: true, problems: [] })
    await store.close()
  })
})

describe('SqliteUpdateStore index queries with two writers', () => {
  // Both writers share one clock that repeats every instant twice, so `at` ties across nodes.
  async function twoWriterLog(store: NodeStore): Promise<{ durable: DurableLog; a: NodeIdentity; b: NodeIdentity }> {
    let tick = 0
    const now = (): number => 1_000 + Math.floor(tick++ / 2) * 10
    const [a, b] = [NodeIdentity.generate(), NodeIdentity.generate()].sort((x, y) => (x.id < y.id ? -1 : 1)) as [NodeIdentity, NodeIdentity]
    // The second writer is created first, so it is interned first: text order must not follow interning order.
    const peer = writer(b, now)
    const durable = await DurableLog.open({ identity: a, store, now })
    for (let i = 0; i < 12; i++) {
      const topic = i % 2 ? 'odd' : 'even'
      peer.doc.append(
        i % 4 ? { topic, kind: 'event', data: i } : { topic, kind: 'transition', data: { subject: 's', from: 'a', to: 'b', event: 'e' } },
      )
      for (const update of peer.updates.splice(0)) expect((await durable.applyRemote(update)).status).toBe('accepted')
      await durable.append({ topic: i % 3 ? 'odd' : 'even', kind: 'event', data: i })
    }
    return { durable, a, b }
  }

  const queries = (a: NodeIdentity, b: NodeIdentity): IndexQuery[] => [
    { limit: 100 },
    { limit: 5 },
    { limit: 14 },
    { limit: 0 },
    { after: new Map([[a.id, 10]]), limit: 100 },
    {
      after: new Map([
        [a.id, 12],
        [b.id, 9],
      ]),
      limit: 100,
    },
    {
      after: new Map([
        [a.id, 3],
        [b.id, 3],
      ]),
      limit: 10,
    },
    { since: 1_050, limit: 100 },
    { since: 1_050, limit: 7 },
    { since: 1_050, after: new Map([[b.id, 11]]), limit: 100 },
    { topic: 'odd', limit: 100 },
    { topic: 'odd', limit: 9 },
    { topic: 'none', limit: 100 },
    { kind: 'transition', limit: 100 },
    { kind: 'gap', limit: 100 },
    { topic: 'even', kind: 'event', since: 1_020, limit: 100 },
    { topic: 'even', since: 1_020, limit: 3 },
    { until: 1_030, limit: 100 },
    { newestFirst: true, limit: 5 },
    { newestFirst: true, topic: 'odd', since: 1_010, limit: 100 },
    { newestFirst: true, before: { at: 1_040, node: b.id, seq: 20 }, limit: 6 },
    { before: { at: 1_040, node: a.id, seq: 20 }, limit: 100 },
  ]

  it('orders by node text then seq, by time with ties broken by node, and stops at the limit', async () => {
    const store = SqliteUpdateStore.open(freshPath())
    const { durable, a, b } = await twoWriterLog(store)
    const all = await store.query({ limit: 100 })
    expect(all).toHaveLength(24)
    expect(all.slice(0, 12)).toEqual(Array.from({ length: 12 }, (_, seq) => ({ node: a.id, seq })))
    expect(all.slice(12)).toEqual(Array.from({ length: 12 }, (_, seq) => ({ node: b.id, seq })))
    expect(await store.query({ after: new Map([[a.id, 10]]), limit: 4 })).toEqual([
      { node: a.id, seq: 10 },
      { node: a.id, seq: 11 },
      { node: b.id, seq: 0 },
      { node: b.id, seq: 1 },
    ])
    const byTime = await store.query({ since: 1_000, limit: 4 })
    expect(byTime.map((r) => r.node)).toEqual([a.id, b.id, a.id, b.id])
    expect(byTime.map((r) => r.seq)).toEqual([0, 0, 1, 1])
    await durable.close()
  })

  // All in the journal (the default: 24 small appends), some moved into the database (every 7), none in the journal.
  it.each([
    ['the default journal', undefined],
    ['a journal moved every 7 updates', { flushUpdates: 7 }],
    ['no journal', false],
  ] as const)('answers every query exactly as MemoryUpdateStore does, before and after a reopen, with %s', async (_, appendJournal) => {
    const path = freshPath()
    const memory = new MemoryUpdateStore()
    const durableStore = SqliteUpdateStore.open(path, { appendJournal })
    const { durable, a, b } = await twoWriterLog(durableStore)
    // Replay the same commits into the reference store.
    const state = await durableStore.load()
    const reference = await DurableLog.open({ store: memory })
    for (const update of state.tail) await reference.applyRemote(update)
    await reference.flush()
    expect((await memory.query({ limit: 100 })).length).toBe(24)
    for (const q of queries(a, b))
      expect(await durableStore.query(q), JSON.stringify({ ...q, after: q.after && [...q.after] })).toEqual(await memory.query(q))
    await durable.close()
    const reopened = SqliteUpdateStore.open(path)
    for (const q of queries(a, b)) expect(await reopened.query(q)).toEqual(await memory.query(q))
    await reopened.close()
  })
})
