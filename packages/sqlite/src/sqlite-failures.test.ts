import { readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs'
import Database from 'better-sqlite3'
import * as Y from 'yjs'
import { afterAll, describe, expect, it } from 'vitest'
import { DurableLog, NodeIdentity, type NodeStore } from '@ylog/core'
import { SqliteUpdateStore } from './index.js'
import { appendEntries, expectStoreError, reload, tempPaths } from './test-support.js'

const { freshPath, cleanup } = tempPaths()
afterAll(cleanup)

describe('SqliteUpdateStore keeps compaction atomic', () => {
  async function storeWithTail(path: string): Promise<Awaited<ReturnType<NodeStore['load']>>> {
    const durableStore = SqliteUpdateStore.open(path)
    const durable = await DurableLog.open({ identity: NodeIdentity.generate(), store: durableStore })
    await appendEntries(durable, 20)
    for (let i = 0; i < 3; i++) await durable.append({ topic: 't', kind: 'event', data: i })
    const state = await durableStore.load()
    await durableStore.compact([Y.convertUpdateFormatV1ToV2(durable.encodeCommitted())], state.lastId - 2)
    const compacted = await durableStore.load()
    await durable.close()
    return compacted
  }

  it('leaves load() unchanged when the transaction fails halfway', async () => {
    const path = freshPath()
    const before = await storeWithTail(path)
    expect(before.tail.length).toBeGreaterThan(0)
    // A trigger makes the snapshot write fail after the covered updates were already deleted in the same transaction.
    const db = new Database(path)
    db.exec("CREATE TRIGGER fail_snapshot BEFORE INSERT ON snapshot_parts BEGIN SELECT RAISE(ABORT, 'simulated failure'); END")
    db.close()
    const store = SqliteUpdateStore.open(path)
    await expectStoreError(() => store.compact([Uint8Array.of(1, 2, 3)], before.lastId), 'STORE_FAILED', /simulated failure/)
    expect(await store.load()).toEqual(before)
    await store.close()
    expect(await reload(path)).toEqual(before)
  })

  it('refuses an upTo that is not a safe integer or beyond the last id, and changes nothing', async () => {
    const path = freshPath()
    const before = await storeWithTail(path)
    const store = SqliteUpdateStore.open(path)
    for (const upTo of [Number.NaN, 1.5, -1, 2 ** 53, before.lastId + 1]) {
      await expectStoreError(() => store.compact([Uint8Array.of(1)], upTo), 'BAD_ARGUMENT', /upTo must be an update id/)
    }
    await expectStoreError(
      () => store.compact(Uint8Array.of(1) as unknown as Uint8Array[], before.lastId),
      'BAD_ARGUMENT',
      /parts must be an array of Uint8Arrays/,
    )
    await expectStoreError(
      () => store.compact(['x'] as unknown as Uint8Array[], before.lastId),
      'BAD_ARGUMENT',
      /parts must be an array of Uint8Arrays/,
    )
    expect(await store.load()).toEqual(before)
    await store.close()
  })
})

describe('SqliteUpdateStore refuses damaged and foreign files', () => {
  /** A closed store whose snapshot holds `entries` entries; returns the snapshot bytes. */
  async function storeWithSnapshot(path: string, entries: number): Promise<Uint8Array> {
    const durableStore = SqliteUpdateStore.open(path)
    const durable = await DurableLog.open({ identity: NodeIdentity.generate(), store: durableStore, compactAfterUpdates: 1_000_000 })
    await appendEntries(durable, entries)
    const { lastId } = await durableStore.load()
    await durableStore.compact([Y.convertUpdateFormatV1ToV2(durable.encodeCommitted())], lastId)
    const { snapshot } = await durableStore.load()
    await durable.close()
    expect(snapshot).toHaveLength(1)
    return snapshot[0] as Uint8Array
  }

  async function openAndLoad(path: string): Promise<void> {
    const store = SqliteUpdateStore.open(path)
    try {
      await store.load()
    } finally {
      await store.close()
    }
  }

  it('a store truncated to half its size', async () => {
    const path = freshPath()
    await storeWithSnapshot(path, 500)
    truncateSync(path, Math.floor(statSync(path).size / 2))
    const err = await expectStoreError(() => openAndLoad(path), 'STORE_CORRUPT', /damaged/)
    expect(err.message).toContain(path)
  })

  it('flipped bytes in the middle of the snapshot, found by its checksum', async () => {
    const path = freshPath()
    const snapshot = await storeWithSnapshot(path, 3_000)
    // VACUUM drops the free pages that still hold the compacted updates' copies of the same entries.
    const db = new Database(path)
    db.exec('VACUUM')
    db.close()
    const file = readFileSync(path)
    // Find where the middle of the snapshot landed in the file, so the damage is in bytes the checksum covers.
    const probe = snapshot.subarray(snapshot.length >> 1, (snapshot.length >> 1) + 64)
    const at = file.indexOf(probe)
    expect(at).toBeGreaterThan(0)
    expect(file.indexOf(probe, at + 1)).toBe(-1)
    for (let i = 0; i < 16; i++) file[at + 8 + i] = (file[at + 8 + i] as number) ^ 0xa5
    writeFileSync(path, file)

    // Page structure is intact, so open passes; the damage is in the snapshot's content.
    const store = SqliteUpdateStore.open(path)
    const err = await expectStoreError(() => store.load(), 'STORE_CORRUPT', /snapshot .* fails its SHA-256 check/)
    expect(err.message).toContain(path)
    const check = store.checkIntegrity()
    expect(check.ok).toBe(false)
    expect(check.problems.join('\n')).toMatch(/SHA-256/)
    await store.close()
  })

  it('flipped bytes in a b-tree page, found by quick_check at open', async () => {
    const path = freshPath()
    await storeWithSnapshot(path, 300)
    const file = readFileSync(path)
    const pageSize = file.readUInt16BE(16)
    // Page 2 is the first table created (meta); wreck its b-tree header.
    file.fill(0xff, pageSize, pageSize + 12)
    writeFileSync(path, file)
    const err = await expectStoreError(() => openAndLoad(path), 'STORE_CORRUPT', /damaged/)
    expect(err.message).toContain(path)
  })

  it('a SQLite database of another application', async () => {
    const path = freshPath('other.db')
    const db = new Database(path)
    db.exec('CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)')
    db.close()
    const err = await expectStoreError(() => SqliteUpdateStore.open(path), 'NOT_A_STORE', /is a SQLite database but not a ylog store/)
    expect(err.message).toContain(path)
    const untouched = new Database(path, { readonly: true })
    expect(untouched.pragma('journal_mode', { simple: true })).toBe('delete')
    untouched.close()
  })

  it('a text file', async () => {
    const path = freshPath('notes.txt')
    writeFileSync(path, 'these are my notes, not a database\n'.repeat(200))
    const err = await expectStoreError(() => SqliteUpdateStore.open(path), 'NOT_A_STORE', /is not a SQLite database/)
    expect(err.message).toContain(path)
    expect(readFileSync(path, 'utf8')).toMatch(/^these are my notes/)
  })

  it('random bytes', async () => {
    const path = freshPath('random.bin')
    writeFileSync(path, Buffer.from(Array.from({ length: 8192 }, (_, i) => (i * 7919 + 13) % 251)))
    await expectStoreError(() => SqliteUpdateStore.open(path), 'NOT_A_STORE', /is not a SQLite database/)
  })

  it('a store from a newer schema', async () => {
    const path = freshPath()
    await SqliteUpdateStore.open(path).close()
    const db = new Database(path)
    db.pragma('user_version = 99')
    db.close()
    const err = await expectStoreError(
      () => SqliteUpdateStore.open(path),
      'STORE_TOO_NEW',
      /written by a newer ylog \(schema 99\); upgrade/,
    )
    expect(err.message).toContain(path)
  })

  it('an empty file becomes a fresh store', async () => {
    const path = freshPath()
    writeFileSync(path, '')
    expect(await reload(path)).toEqual({ snapshot: [], tail: [], lastId: 0 })
  })
})
