// The append journal when the disk says no: a write that fills the disk halfway through a record, a failed
// fdatasync, and a move into the database that fails while the journal still takes appends.
import Database from 'better-sqlite3'
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest'
import { DurableLog, NodeIdentity, type IndexRow, type UpdateRecord } from '@ylog/core'
import { journalIo } from './append-journal.js'
import { SqliteUpdateStore } from './index.js'
import { crashImage, expectStoreError, tempPaths } from './test-support.js'

const { freshPath, cleanup } = tempPaths()
afterAll(cleanup)
afterEach(() => {
  vi.restoreAllMocks()
})

const node = NodeIdentity.generate().id
const row = (seq: number): IndexRow => ({ node, seq, at: 1000 + seq, topic: 't', kind: 'event' })
const record = (n: number): UpdateRecord => ({ update: new Uint8Array(100).fill(n), entries: [row(n)] })
// `record` makes updates that are not Yjs updates: a move must not merge them (mergeRuns).
const BYTES_ONLY = { appendJournal: { mergeBytes: 0 } }
const tailNumbers = async (store: SqliteUpdateStore): Promise<number[]> => (await store.load()).tail.map((u) => u[0] as number)

function fsError(code: string): Error {
  return Object.assign(new Error(`${code}: simulated`), { code })
}

describe('the append journal under failures', () => {
  it('fails an append whose record fills the disk halfway, acknowledges nothing of it, and writes the next over it', async () => {
    const path = freshPath()
    const store = SqliteUpdateStore.open(path, BYTES_ONLY)
    await store.append([record(1)])
    await store.append([record(2)])
    // The first write call of the record gets 30 bytes out, the next finds the disk full.
    const write = journalIo.writeSync
    let calls = 0
    vi.spyOn(journalIo, 'writeSync').mockImplementation(((fd: number, buffer: Buffer, offset: number, _: number, position: number) => {
      calls++
      if (calls === 1) return write(fd, buffer, offset, 30, position)
      throw fsError('ENOSPC')
    }) as typeof journalIo.writeSync)
    await expectStoreError(() => store.append([record(3)]), 'STORE_FULL', new RegExp(`${path}-appends: .*the disk is full \\(ENOSPC`))
    vi.restoreAllMocks()
    expect(await tailNumbers(store)).toEqual([1, 2])
    expect(await store.query({ limit: 10 })).toHaveLength(2)
    // The id the failed append would have had is given again.
    expect(await store.append([record(4)])).toBe(3)
    // What a crash now would leave: the journal read back from disk.
    expect(store.checkJournal()).toEqual([])
    const image = SqliteUpdateStore.open(await crashImage(path, freshPath()), BYTES_ONLY)
    expect(await tailNumbers(image)).toEqual([1, 2, 4])
    await image.close()
    await store.close()
  })

  it('probes without counting the appends in the journal as moved in: a crash after a probe keeps them', async () => {
    const path = freshPath()
    const store = SqliteUpdateStore.open(path, BYTES_ONLY)
    for (let i = 1; i <= 3; i++) await store.append([record(i)])
    await store.probe()
    const image = SqliteUpdateStore.open(await crashImage(path, freshPath()), BYTES_ONLY)
    expect(await tailNumbers(image)).toEqual([1, 2, 3])
    await image.close()
    await store.close()
  })

  it('fails an append whose fdatasync fails with STORE_FAILED, asking for a restart', async () => {
    const path = freshPath()
    const store = SqliteUpdateStore.open(path, BYTES_ONLY)
    await store.append([record(1)])
    vi.spyOn(journalIo, 'fdatasyncSync').mockImplementationOnce(() => {
      throw fsError('EIO')
    })
    await expectStoreError(() => store.append([record(2)]), 'STORE_FAILED', /fdatasync reported EIO; restart the node/)
    await store.close()
  })

  it('keeps acknowledging into the journal while a move fails, up to its bound, then fails appends until a move goes', async () => {
    const path = freshPath()
    const store = SqliteUpdateStore.open(path, { appendJournal: { flushUpdates: 3, mergeBytes: 0 } })
    // Another process makes the database refuse new updates (as a full disk would).
    const other = new Database(path)
    other.exec("CREATE TRIGGER no_room BEFORE INSERT ON updates BEGIN SELECT RAISE(ABORT, 'no room'); END")
    for (let i = 1; i <= 3; i++) expect(await store.append([record(i)])).toBe(i)
    // The move after the third failed quietly; the fourth append must move first, and fails with it.
    await expectStoreError(() => store.append([record(4)]), 'STORE_FAILED', /moving the append journal into the database .*no room/)
    expect(await tailNumbers(store)).toEqual([1, 2, 3])
    other.exec('DROP TRIGGER no_room')
    other.close()
    expect(await store.append([record(4)])).toBe(4)
    const db = new Database(path, { readonly: true })
    expect(db.prepare('SELECT count(*) FROM updates').pluck().get()).toBe(3)
    db.close()
    await store.close()
    const again = SqliteUpdateStore.open(path, BYTES_ONLY)
    expect(await tailNumbers(again)).toEqual([1, 2, 3, 4])
    await again.close()
  })

  it('lets a DurableLog recover from a full journal write: the failed entry is signed again, nothing acknowledged is lost', async () => {
    const path = freshPath()
    const identity = NodeIdentity.generate()
    const store = SqliteUpdateStore.open(path)
    const log = await DurableLog.open({ identity, store, retry: { firstDelayMs: 5, maxDelayMs: 20 } })
    await log.append({ topic: 't', kind: 'event', data: 0 })
    vi.spyOn(journalIo, 'writeSync').mockImplementationOnce(() => {
      throw fsError('ENOSPC')
    })
    await expectStoreError(() => log.append({ topic: 't', kind: 'event', data: 1 }), 'STORE_FULL', /-appends: .*the disk is full/)
    vi.restoreAllMocks()
    // Poll with a deadline: the log retries by itself and takes appends again (until then, append throws its refusal).
    const deadline = Date.now() + 5_000
    let entry: Awaited<ReturnType<DurableLog['append']>> | undefined
    while (entry === undefined && Date.now() < deadline) {
      try {
        entry = await log.append({ topic: 't', kind: 'event', data: 2 })
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
    }
    expect(entry?.seq).toBe(1)
    await log.close()
    const again = await DurableLog.open({ identity, store: SqliteUpdateStore.open(path) })
    expect(again.committedLength(identity.id)).toBe(2)
    expect(again.get(identity.id, 1)?.data).toBe(2)
    await again.close()
  })
})
