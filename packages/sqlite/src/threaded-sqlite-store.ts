import type { Worker } from 'node:worker_threads'
import { Serial, startModuleWorker } from '@ylog/core/internal'
import {
  fromWire,
  YlogError,
  type WireError,
  type ConsumerRecord,
  type IdempotencyRecord,
  type IndexQuery,
  type NodeId,
  type StoredState,
  type StoreStats,
  type UpdateRecord,
  type NodeStore,
} from '@ylog/core'
import { SqliteUpdateStore, type SqliteUpdateStoreOptions } from './sqlite-update-store.js'
import { checkCompactArgs } from './store-maintenance.js'
import type { MaintenanceCall } from './store-worker.js'

type Pending = { resolve: (value: unknown) => void; reject: (err: Error) => void }
type Call = MaintenanceCall extends infer C ? (C extends { id: number } ? Omit<C, 'id'> : never) : never

/**
 * A SqliteUpdateStore whose long jobs run on a worker thread, through a
 * second connection to the same file.
 *
 * Commits stay on the caller's thread: one is a few hundred microseconds,
 * fsync included, and handing it to another thread and back costs more on a
 * loaded machine, where every wake-up waits for a core. In a three-node
 * cluster on two cores that hand-off alone added a third to the p99 of
 * sync latency (docs/benchmarks.md). Compaction (hashing and writing a
 * snapshot of the whole document, seconds at a million entries) and the
 * deep integrity check (every page) would stall the event loop for as long;
 * they run in the worker. Writes that arrive during a compaction wait for
 * it in order, instead of blocking the thread on SQLite's write lock.
 */
export class ThreadedSqliteStore implements NodeStore {
  readonly #store: SqliteUpdateStore
  readonly #worker: Worker
  readonly #pending = new Map<number, Pending>()
  #nextId = 1
  #dead: YlogError | undefined
  /** Writes queued behind a compaction; 0 lets a write run at once. */
  /** Compactions and closing, and the writes that arrive while one of those is queued: in call order. */
  readonly #serial = new Serial()

  private constructor(store: SqliteUpdateStore, worker: Worker) {
    this.#store = store
    this.#worker = worker
    worker.on('message', (message: { type: string; id: number; ok: boolean; value: unknown; code: string; message: string }) => {
      if (message.type !== 'result') return
      const pending = this.#pending.get(message.id)
      this.#pending.delete(message.id)
      if (message.ok) pending?.resolve(message.value)
      else pending?.reject(fromWire(message))
    })
    const fail = (why: string): void => {
      this.#dead ??= new YlogError('STORE_FAILED', `the store's maintenance thread ${why}`)
      for (const p of this.#pending.values()) p.reject(this.#dead)
      this.#pending.clear()
    }
    worker.on('error', (err) => fail(`failed: ${err.message}`))
    worker.on('exit', (code) => fail(`exited with code ${code}`))
  }

  /** Opens (or creates) the store; rejects with the same errors SqliteUpdateStore.open throws. */
  static async open(path: string, options: SqliteUpdateStoreOptions = {}): Promise<ThreadedSqliteStore> {
    const store = SqliteUpdateStore.open(path, options)
    const worker = startModuleWorker(import.meta.url, 'store-worker', { path: store.path })
    try {
      await new Promise<void>((resolve, reject) => {
        worker.once('message', (message: { type: string } & WireError) => {
          if (message.type === 'ready') resolve()
          else reject(fromWire(message))
        })
        worker.once('error', reject)
      })
    } catch (err) {
      void worker.terminate()
      await store.close()
      throw err
    }
    return new ThreadedSqliteStore(store, worker)
  }

  append(records: readonly UpdateRecord[]): Promise<number> {
    return this.#write(() => this.#store.append(records))
  }

  probe(): Promise<void> {
    return this.#write(() => this.#store.probe())
  }

  load(): Promise<StoredState> {
    return this.#store.load()
  }

  compact(parts: readonly Uint8Array[], upTo: number): Promise<void> {
    return this.#serial.run(async () => {
      if (this.#dead !== undefined) throw this.#dead
      checkCompactArgs(parts, upTo, this.#store.lastId)
      // The worker's connection drops the updates the parts cover: the journal's must be in the database first.
      this.#store.moveJournal()
      // Moved, not copied, where a part owns its buffer (encoded parts do).
      const owned = parts.filter(
        (part) => part.buffer instanceof ArrayBuffer && part.byteOffset === 0 && part.byteLength === part.buffer.byteLength,
      )
      await this.#call({ method: 'compact', parts: [...parts], upTo }, [...new Set(owned.map((part) => part.buffer as ArrayBuffer))])
    })
  }

  query(query: IndexQuery): Promise<Array<{ node: NodeId; seq: number }>> {
    return this.#store.query(query)
  }

  findIdempotency(key: string): Promise<IdempotencyRecord | undefined> {
    return this.#store.findIdempotency(key)
  }

  pruneIdempotency(before: number): Promise<number> {
    return this.#write(() => this.#store.pruneIdempotency(before))
  }

  readConsumer(name: string): Promise<ConsumerRecord | undefined> {
    return this.#store.readConsumer(name)
  }

  writeConsumer(record: ConsumerRecord): Promise<void> {
    return this.#write(() => this.#store.writeConsumer(record))
  }

  stats(): Promise<StoreStats> {
    return this.#store.stats()
  }

  async checkIntegrity(): Promise<{ ok: boolean; problems: string[] }> {
    const problems = ((await this.#call({ method: 'checkIntegrity' })) as string[]).map((p) => `${this.#store.path}: ${p}`)
    problems.push(...this.#store.checkJournal())
    return { ok: problems.length === 0, problems }
  }

  async close(): Promise<void> {
    if (this.#dead !== undefined) return this.#store.close()
    await this.#serial.run(async () => {
      try {
        await this.#call({ method: 'close' })
      } finally {
        this.#worker.removeAllListeners('exit')
        await this.#worker.terminate()
        this.#dead = new YlogError('CLOSED', 'the store is closed')
        await this.#store.close()
      }
    })
  }

  /** Runs a write now, unless some are queued behind a compaction: then after them, in call order. */
  #write<T>(work: () => Promise<T>): Promise<T> {
    return this.#serial.pending === 0 ? work() : this.#serial.run(work)
  }

  #call(call: Call, transfer: ArrayBuffer[] = []): Promise<unknown> {
    if (this.#dead !== undefined) return Promise.reject(this.#dead)
    const id = this.#nextId++
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject })
      this.#worker.postMessage({ id, ...call }, transfer)
    })
  }
}
