import type { Worker } from 'node:worker_threads'
import { startModuleWorker, YlogError, type YlogErrorCode, type ConsumerRecord, type IdempotencyRecord, type IndexQuery, type NodeId, type StoredState, type StoreStats, type UpdateRecord, type UpdateStore } from '@ylog/core'
import type { SqliteUpdateStoreOptions } from './sqlite-update-store.js'

type Pending = { resolve: (value: unknown) => void; reject: (err: Error) => void }

/**
 * A SqliteUpdateStore running in its own worker thread. better-sqlite3 is
 * synchronous, so on the main thread every commit's fsync would stall the
 * event loop: no signing, no HTTP, while the disk flushes. In a worker the
 * commit of one group overlaps with signing the next, which is what lets
 * group commit use the second core. Same contract, same files.
 */
export class ThreadedSqliteStore implements UpdateStore {
  readonly #worker: Worker
  readonly #pending = new Map<number, Pending>()
  #nextId = 1
  #dead: YlogError | undefined

  private constructor(worker: Worker) {
    this.#worker = worker
    worker.on('message', (message: { type: string; id: number; ok: boolean; value: unknown; code: string; message: string }) => {
      if (message.type !== 'result') return
      const pending = this.#pending.get(message.id)
      this.#pending.delete(message.id)
      if (message.ok) pending?.resolve(message.value)
      else pending?.reject(new YlogError(message.code as YlogErrorCode, message.message))
    })
    const fail = (why: string): void => {
      this.#dead ??= new YlogError('STORE_FAILED', `the store's worker thread ${why}`)
      for (const p of this.#pending.values()) p.reject(this.#dead)
      this.#pending.clear()
    }
    worker.on('error', (err) => fail(`failed: ${err.message}`))
    worker.on('exit', (code) => fail(`exited with code ${code}`))
  }

  /** Opens (or creates) the store in a worker; rejects with the same errors SqliteUpdateStore.open throws. */
  static open(path: string, options: SqliteUpdateStoreOptions = {}): Promise<ThreadedSqliteStore> {
    const worker = startModuleWorker(import.meta.url, 'store-worker', { path, options })
    return new Promise((resolve, reject) => {
      const onMessage = (message: { type: string; code: YlogErrorCode; message: string }): void => {
        worker.off('message', onMessage)
        if (message.type === 'ready') resolve(new ThreadedSqliteStore(worker))
        else {
          void worker.terminate()
          reject(new YlogError(message.code, message.message))
        }
      }
      worker.on('message', onMessage)
      worker.once('error', reject)
    })
  }

  append(records: readonly UpdateRecord[]): Promise<number> {
    return this.#call('append', [records]) as Promise<number>
  }

  load(): Promise<StoredState> {
    return this.#call('load', []) as Promise<StoredState>
  }

  compact(snapshot: Uint8Array, upTo: number): Promise<void> {
    return this.#call('compact', [snapshot, upTo]) as Promise<void>
  }

  query(query: IndexQuery): Promise<Array<{ node: NodeId; seq: number }>> {
    return this.#call('query', [query]) as Promise<Array<{ node: NodeId; seq: number }>>
  }

  findIdempotency(key: string): Promise<IdempotencyRecord | undefined> {
    return this.#call('findIdempotency', [key]) as Promise<IdempotencyRecord | undefined>
  }

  pruneIdempotency(before: number): Promise<number> {
    return this.#call('pruneIdempotency', [before]) as Promise<number>
  }

  readConsumer(name: string): Promise<ConsumerRecord | undefined> {
    return this.#call('readConsumer', [name]) as Promise<ConsumerRecord | undefined>
  }

  writeConsumer(record: ConsumerRecord): Promise<void> {
    return this.#call('writeConsumer', [record]) as Promise<void>
  }

  stats(): Promise<StoreStats> {
    return this.#call('stats', []) as Promise<StoreStats>
  }

  checkIntegrity(): Promise<{ ok: boolean; problems: string[] }> {
    return this.#call('checkIntegrity', []) as Promise<{ ok: boolean; problems: string[] }>
  }

  async close(): Promise<void> {
    if (this.#dead !== undefined) return
    try {
      await this.#call('close', [])
    } finally {
      this.#worker.removeAllListeners('exit')
      await this.#worker.terminate()
      this.#dead = new YlogError('CLOSED', 'the store is closed')
    }
  }

  #call(method: string, args: unknown[]): Promise<unknown> {
    if (this.#dead !== undefined) return Promise.reject(this.#dead)
    const id = this.#nextId++
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject })
      this.#worker.postMessage({ id, method, args })
    })
  }
}
