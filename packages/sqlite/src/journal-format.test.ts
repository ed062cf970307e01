// Journal formats: format 2 (CBOR meta) is written; format 1 (JSON meta), which an earlier
// ylog wrote, is still read, and moved into the database before anything is appended.
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { crc32 } from 'node:zlib'
import Database from 'better-sqlite3'
import { afterAll, describe, expect, it } from 'vitest'
import { NodeIdentity, type IndexRow, type UpdateRecord } from '@ylog/core'
import { encodeRecord, JOURNAL_HEADER_BYTES, journalPath } from './append-journal.js'
import { SqliteUpdateStore, StoreReader } from './index.js'
import { SELECT_STORE_ID } from './schema.js'
import { tempPaths } from './test-support.js'

const { freshPath, cleanup } = tempPaths()
afterAll(cleanup)

const node = NodeIdentity.generate().id
const row = (seq: number): IndexRow => ({ node, seq, at: 1_795_000_000_000 + seq, topic: 'pipeline/stages', kind: 'event' })
const record = (seq: number): UpdateRecord => ({ update: new Uint8Array(400).fill(seq), entries: [row(seq)] })
// `record` makes updates that are not Yjs updates: a move must not merge them (mergeRuns).
const BYTES_ONLY = { appendJournal: { mergeBytes: 0 } }

/** A record as format 1 wrote it: the same head, JSON meta with node ids and hashes in hex. */
function formatOneRecord(id: number, r: UpdateRecord): Buffer {
  const key = r.idempotency
  const meta = Buffer.from(
    JSON.stringify({
      records: [
        {
          bytes: r.update.byteLength,
          entries: r.entries.map((e) => [e.node, e.seq, e.at, e.topic, e.kind]),
          ...(key === undefined ? {} : { key: [key.key, Buffer.from(key.requestHash).toString('hex'), key.node, key.seq, key.count] }),
        },
      ],
    }),
  )
  const payload = Buffer.concat([Buffer.alloc(4), meta, r.update])
  payload.writeUInt32LE(meta.byteLength, 0)
  const head = Buffer.alloc(20)
  head.write('yrec', 0, 'ascii')
  head.writeUInt32LE(payload.byteLength, 4)
  head.writeBigUInt64LE(BigInt(id), 8)
  head.writeUInt32LE(crc32(payload, crc32(head.subarray(4, 16))), 16)
  return Buffer.concat([head, payload])
}

/** The header format 1 wrote, for the store at `path`. */
function formatOneHeader(path: string): Buffer {
  const db = new Database(path, { readonly: true })
  const storeId = db.prepare(SELECT_STORE_ID).pluck().get() as number
  db.close()
  const header = Buffer.alloc(JOURNAL_HEADER_BYTES)
  header.write('ylogapp1', 0, 'ascii')
  header.writeBigUInt64LE(BigInt(storeId), 8)
  return header
}

describe('journal formats', () => {
  it('writes records about half the size of format 1 for a single entry', () => {
    const format2 = encodeRecord([{ id: 1, record: record(1) }]).byteLength
    const format1 = formatOneRecord(1, record(1)).byteLength
    expect(format1 - format2).toBeGreaterThan(70)
  })

  it('reads a format 1 journal an earlier ylog left, and moves it in before the next append starts a format 2 one', async () => {
    const path = freshPath()
    await SqliteUpdateStore.open(path, BYTES_ONLY).close()
    const header = formatOneHeader(path)
    const db = new Database(path, { readonly: true })
    const inDb = (): number => db.prepare('SELECT count(*) FROM updates').pluck().get() as number
    const keyed = { ...record(3), idempotency: { key: 'k', requestHash: new Uint8Array(32).fill(9), node, seq: 3, count: 1 } }
    const image = Buffer.alloc(64 * 1024)
    Buffer.concat([header, formatOneRecord(1, record(1)), formatOneRecord(2, record(2)), formatOneRecord(3, keyed)]).copy(image)
    writeFileSync(journalPath(path), image)

    const reader = StoreReader.open(path)
    expect(reader.read().tail.map((u) => u[0])).toEqual([1, 2, 3])
    reader.close()
    const store = SqliteUpdateStore.open(path, BYTES_ONLY)
    expect((await store.load()).tail.map((u) => u[0])).toEqual([1, 2, 3])
    expect(await store.query({ limit: 10 })).toEqual([1, 2, 3].map((seq) => ({ node, seq })))
    expect(await store.findIdempotency('k')).toEqual(keyed.idempotency)
    expect(store.checkIntegrity()).toEqual({ ok: true, problems: [] })
    expect(inDb()).toBe(0)

    expect(await store.append([record(4)])).toBe(4)
    expect(inDb()).toBe(3)
    expect(readFileSync(journalPath(path)).subarray(0, 8).toString('ascii')).toBe('ylogapp2')
    await store.close()
    expect(existsSync(journalPath(path))).toBe(false)
    expect(inDb()).toBe(4)
    db.close()
    const again = SqliteUpdateStore.open(path, BYTES_ONLY)
    expect((await again.load()).tail.map((u) => u[0])).toEqual([1, 2, 3, 4])
    expect(await again.findIdempotency('k')).toEqual(keyed.idempotency)
    await again.close()
  })

  it('removes a format 1 journal whose appends the database holds already', async () => {
    const path = freshPath()
    const store = SqliteUpdateStore.open(path, BYTES_ONLY)
    await store.append([record(1)])
    await store.close()
    writeFileSync(journalPath(path), Buffer.concat([formatOneHeader(path), formatOneRecord(1, record(1)), Buffer.alloc(4096)]))
    const again = SqliteUpdateStore.open(path, BYTES_ONLY)
    expect(existsSync(journalPath(path))).toBe(false)
    expect(await again.append([record(2)])).toBe(2)
    expect(readFileSync(journalPath(path)).subarray(0, 8).toString('ascii')).toBe('ylogapp2')
    expect((await again.load()).tail.map((u) => u[0])).toEqual([1, 2])
    await again.close()
  })
})
