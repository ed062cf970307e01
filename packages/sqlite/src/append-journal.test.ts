import { chmodSync, copyFileSync, existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import Database from 'better-sqlite3'
import { afterAll, describe, expect, it } from 'vitest'
import { NodeIdentity, type IndexRow, type UpdateRecord } from '@ylog/core'
import { describeNodeStore } from '@ylog/core/testing'
import {
  encodeRecord,
  JOURNAL_HEADER_BYTES,
  JOURNAL_PREALLOCATED_BYTES,
  journalHeader,
  journalPath,
  scanJournal,
} from './append-journal.js'
import { SqliteUpdateStore, StoreReader } from './index.js'
import { crashImage, expectStoreError, tempPaths } from './test-support.js'

const { freshPath, cleanup } = tempPaths()
afterAll(cleanup)

const node = NodeIdentity.generate().id
const row = (seq: number, extra: Partial<IndexRow> = {}): IndexRow => ({ node, seq, at: 1000 + seq, topic: 't', kind: 'event', ...extra })
const record = (seq: number): UpdateRecord => ({ update: Uint8Array.of(seq, seq, seq), entries: [row(seq)] })
/** Where the records of updates 1..n (one per append, as `record` makes them) end in a journal. */
const endAfter = (n: number): number =>
  JOURNAL_HEADER_BYTES +
  Array.from({ length: n }, (_, i) => encodeRecord([{ id: i + 1, record: record(i + 1) }]).byteLength).reduce((a, b) => a + b, 0)
// `record` makes updates that are not Yjs updates: a move must not merge them (mergeRuns).
const BYTES_ONLY = { appendJournal: { mergeBytes: 0 } }
const tailNumbers = async (store: SqliteUpdateStore): Promise<number[]> => (await store.load()).tail.map((u) => u[0] as number)

// Moves into the database after every third update, so reads merge journal rows with database rows.
describeNodeStore('SqliteUpdateStore (journal moved every 3 updates)', () => {
  let path = ''
  const options = { appendJournal: { flushUpdates: 3 } }
  return {
    create: async () => SqliteUpdateStore.open((path = freshPath()), options),
    reopen: async () => SqliteUpdateStore.open(path, options),
  }
})

describeNodeStore('SqliteUpdateStore (no journal)', () => {
  let path = ''
  return {
    create: async () => SqliteUpdateStore.open((path = freshPath()), { appendJournal: false }),
    reopen: async () => SqliteUpdateStore.open(path, { appendJournal: false }),
  }
})

describe('the append journal', () => {
  it('round-trips records with index rows, subjects and idempotency keys, ids running on', () => {
    const key = { key: 'k', requestHash: new Uint8Array(32).fill(7), node, seq: 2, count: 2 }
    const first: UpdateRecord = { update: Uint8Array.of(1), entries: [row(0, { kind: 'transition', subject: 'job-1' })] }
    const second: UpdateRecord = { update: Uint8Array.of(2, 2), entries: [row(1), row(2)], idempotency: key }
    const bytes = Buffer.concat([
      journalHeader(42),
      encodeRecord([
        { id: 5, record: first },
        { id: 6, record: second },
      ]),
      encodeRecord([{ id: 7, record: record(3) }]),
    ])
    const scan = scanJournal(bytes, 42, 'j')
    expect(scan.end).toBe(bytes.byteLength)
    expect(scan.updates.map((u) => u.id)).toEqual([5, 6, 7])
    expect(scan.updates[0]?.record).toEqual({ update: Uint8Array.of(1), entries: first.entries })
    expect(scan.updates[1]?.record).toEqual(second)
  })

  it('keeps small appends in the journal, acknowledged, and moves them into the database when full or at close', async () => {
    const path = freshPath()
    const store = SqliteUpdateStore.open(path, { appendJournal: { flushUpdates: 4, mergeBytes: 0 } })
    chmodSync(path, 0o600)
    for (let i = 1; i <= 3; i++) await store.append([record(i)])
    const db = new Database(path, { readonly: true })
    const inDb = (): number => db.prepare('SELECT count(*) FROM updates').pluck().get() as number
    expect(inDb()).toBe(0)
    expect(await store.query({ limit: 10 })).toEqual([1, 2, 3].map((seq) => ({ node, seq })))
    await store.append([record(4)])
    expect(inDb()).toBe(4)
    await store.append([record(5)])
    // Created at its full size and written inside it: a synced append changes no file size. Readable as the database is.
    expect(statSync(journalPath(path)).size).toBe(JOURNAL_PREALLOCATED_BYTES)
    expect(statSync(journalPath(path)).mode & 0o777).toBe(0o600)
    // Big appends (a group commit under load) go straight in, with what the journal holds before them.
    await store.append([{ update: new Uint8Array(20_000).fill(6), entries: [row(6)] }])
    expect(inDb()).toBe(6)
    await store.append([record(7)])
    await store.close()
    expect(existsSync(journalPath(path))).toBe(false)
    expect(inDb()).toBe(7)
    db.close()
  })

  it('replays what a crash left in the journal, drops an append cut off mid-write, and appends after it', async () => {
    const path = freshPath()
    const store = SqliteUpdateStore.open(path, BYTES_ONLY)
    for (let i = 1; i <= 3; i++) await store.append([record(i)])
    const crashed = `${path}.crashed`
    copyFileSync(journalPath(path), crashed)
    await store.close()
    // The state a crash leaves: the database without the journal's appends, the journal with a torn fourth one.
    expect(existsSync(journalPath(path))).toBe(false)
    const db = new Database(path)
    db.exec('DELETE FROM updates; DELETE FROM entries')
    db.close()
    const image = readFileSync(crashed)
    const torn = encodeRecord([{ id: 4, record: record(9) }])
    torn.copy(image, endAfter(3), 0, torn.byteLength - 2)
    writeFileSync(journalPath(path), image)
    const again = SqliteUpdateStore.open(path, BYTES_ONLY)
    expect(await tailNumbers(again)).toEqual([1, 2, 3])
    expect(await again.query({ limit: 10 })).toHaveLength(3)
    expect(await again.append([record(4)])).toBe(4)
    await again.close()
    const last = SqliteUpdateStore.open(path, BYTES_ONLY)
    expect(await tailNumbers(last)).toEqual([1, 2, 3, 4])
    expect(last.checkIntegrity()).toEqual({ ok: true, problems: [] })
    await last.close()
  })

  it('skips records the database already holds (a crash after a move, before the journal was cut)', async () => {
    const path = freshPath()
    const store = SqliteUpdateStore.open(path, BYTES_ONLY)
    for (let i = 1; i <= 3; i++) await store.append([record(i)])
    const before = readFileSync(journalPath(path))
    store.moveJournal()
    await store.append([record(4)])
    await store.close()
    writeFileSync(journalPath(path), before)
    const again = SqliteUpdateStore.open(path, BYTES_ONLY)
    expect(await tailNumbers(again)).toEqual([1, 2, 3, 4])
    expect(await again.append([record(5)])).toBe(5)
    expect(await tailNumbers(again)).toEqual([1, 2, 3, 4, 5])
    await again.close()
  })

  it('reads a crash image whose journal holds a new round of appends over an earlier one', async () => {
    const path = freshPath()
    const store = SqliteUpdateStore.open(path, { appendJournal: { flushUpdates: 4, mergeBytes: 0 } })
    // Five single appends: 1-4 moved into the database, 5 written behind the header over 1, with 2-4 after it.
    for (let i = 1; i <= 5; i++) await store.append([{ update: new Uint8Array(i === 5 ? 1 : 40).fill(i), entries: [row(i)] }])
    const image = await crashImage(path, freshPath())
    await store.close()
    const copy = SqliteUpdateStore.open(image, BYTES_ONLY)
    expect(await tailNumbers(copy)).toEqual([1, 2, 3, 4, 5])
    expect(await copy.append([record(6)])).toBe(6)
    expect(copy.checkIntegrity()).toEqual({ ok: true, problems: [] })
    await copy.close()
  })

  it('refuses a journal damaged in the middle, naming it, and one that belongs to another database', async () => {
    const path = freshPath()
    const store = SqliteUpdateStore.open(path, BYTES_ONLY)
    for (let i = 1; i <= 3; i++) await store.append([record(i)])
    const journal = readFileSync(journalPath(path))
    await store.close()
    const damaged = Buffer.from(journal)
    damaged.writeUInt8((damaged.readUInt8(JOURNAL_HEADER_BYTES + 30) ^ 0xff) & 0xff, JOURNAL_HEADER_BYTES + 30)
    const db = new Database(path)
    db.exec('DELETE FROM updates; DELETE FROM entries')
    db.close()
    writeFileSync(journalPath(path), damaged)
    await expectStoreError(
      () => SqliteUpdateStore.open(path, BYTES_ONLY),
      'STORE_CORRUPT',
      new RegExp(`${journalPath(path)}: the record at byte 16 is not whole but records after it continue the log`),
    )
    // The database removed while appends were pending: a new one must not take them.
    writeFileSync(journalPath(path), journal)
    for (const suffix of ['', '-wal', '-shm']) rmSync(path + suffix, { force: true })
    await expectStoreError(
      () => SqliteUpdateStore.open(path, BYTES_ONLY),
      'STORE_CORRUPT',
      /holds appends for another store .* move this file aside/,
    )
    expect(readFileSync(journalPath(path))).toEqual(journal)
  })

  it('opens past a journal whose creation a crash cut short, and refuses one whose header is damaged under whole records', async () => {
    const path = freshPath()
    const store = SqliteUpdateStore.open(path, BYTES_ONLY)
    await store.append([record(1)])
    const journal = readFileSync(journalPath(path))
    await store.close()
    // Zeros where the header should be, nothing whole after: a file the machine stopped creating.
    writeFileSync(journalPath(path), Buffer.alloc(4096))
    const again = SqliteUpdateStore.open(path, BYTES_ONLY)
    expect(await tailNumbers(again)).toEqual([1])
    expect(existsSync(journalPath(path))).toBe(false)
    await again.close()
    journal.fill(0, 0, 8)
    writeFileSync(journalPath(path), journal)
    await expectStoreError(() => SqliteUpdateStore.open(path, BYTES_ONLY), 'STORE_CORRUPT', /not a ylog append journal/)
  })

  it('is read whole by a StoreReader when its records run past the first 64 KiB', async () => {
    const path = freshPath()
    const store = SqliteUpdateStore.open(path, BYTES_ONLY)
    // 100 appends of 1.5 KiB each stay in the journal (under 512 KiB): about 160 KiB of records.
    for (let i = 1; i <= 100; i++) await store.append([{ update: new Uint8Array(1500).fill(i), entries: [row(i)] }])
    const reader = StoreReader.open(path)
    expect(reader.read().tail.map((u) => u[0])).toEqual(Array.from({ length: 100 }, (_, i) => i + 1))
    reader.close()
    await store.close()
  })

  it('is read by a StoreReader beside the writer, before and after it moves into the database', async () => {
    const path = freshPath()
    const store = SqliteUpdateStore.open(path, { appendJournal: { flushUpdates: 3, mergeBytes: 0 } })
    await store.append([record(1)])
    const reader = StoreReader.open(path)
    expect(reader.read().tail.map((u) => u[0])).toEqual([1])
    await store.append([record(2)])
    await store.append([record(3)])
    await store.append([record(4)])
    expect(reader.read().tail.map((u) => u[0])).toEqual([2, 3, 4])
    expect(reader.read().tail).toEqual([])
    // An append half-written (the writer mid-write) is not read, and not an error.
    await store.append([record(5)])
    const journal = readFileSync(journalPath(path))
    const half = encodeRecord([{ id: 6, record: record(6) }])
    // Records 4 and 5 are the round after the move, behind the header; 6 would follow them.
    half.copy(journal, endAfter(2), 0, 30)
    writeFileSync(journalPath(path), journal)
    expect(reader.read().tail.map((u) => u[0])).toEqual([5])
    expect(reader.read().tail).toEqual([])
    reader.close()
    await store.close()
  })
})
