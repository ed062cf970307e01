import { readFileSync, writeFileSync } from 'node:fs'
import { afterAll, describe, expect, it } from 'vitest'
import { SqliteUpdateStore, StoreReader } from './index.js'
import { expectStoreError, tempPaths } from './test-support.js'

const { freshPath, cleanup } = tempPaths()
afterAll(cleanup)

const bytes = (n: number): Uint8Array => Uint8Array.of(n, n, n)
const record = (n: number) => ({ update: bytes(n), entries: [] })
const asNumbers = (list: Uint8Array[]): number[] => list.map((b) => b[0] as number)

describe('StoreReader', () => {
  it('reads what was added since the read before, beside a writer: updates, then parts and the updates after them', async () => {
    const path = freshPath()
    const store = SqliteUpdateStore.open(path)
    await store.append([record(1), record(2)])
    const reader = StoreReader.open(path)
    expect(reader.read()).toEqual({ snapshot: [], tail: [bytes(1), bytes(2)] })
    expect(reader.read()).toEqual({ snapshot: [], tail: [] })
    await store.append([record(3)])
    expect(asNumbers(reader.read().tail)).toEqual([3])
    // A compaction covers updates 1-3 with a part; what comes after it is read from the tail.
    await store.compact([bytes(100)], 3)
    await store.append([record(4)])
    const delta = reader.read()
    expect([asNumbers(delta.snapshot), asNumbers(delta.tail)]).toEqual([[100], [4]])
    reader.close()
    await store.close()
  })

  it('refuses a file that is not a store, and leaves it as it was', async () => {
    const path = freshPath()
    const text = 'not a database at all, just some text that is long enough to have a header'
    writeFileSync(path, text)
    await expectStoreError(() => StoreReader.open(path), 'NOT_A_STORE', /is not a SQLite database/)
    expect(readFileSync(path, 'utf8')).toBe(text)
  })
})
