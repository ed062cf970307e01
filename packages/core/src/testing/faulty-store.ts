import { YlogError } from '../errors.js'
import type { ConsumerRecord, IdempotencyRecord, IndexQuery, NodeStore } from '../durable/update-store.js'
import type { StoredState, StoreStats, UpdateRecord } from '../durable/update-store.js'
import type { NodeId } from '../entry/identity.js'

/**
 * Where a FaultyStore fails. 'append', 'compact', 'load', 'probe': the call
 * throws before the wrapped store sees it (nothing written). 'fsync': an
 * append reaches the wrapped store (the bytes are there) and then throws,
 * like a commit whose fsync failed: its caller cannot know what survived.
 */
export type FaultPoint = 'append' | 'compact' | 'load' | 'probe' | 'fsync'

/** The errors a real store maps disk trouble to, named after the file like SqliteUpdateStore's. */
export const FAULTS = {
  full: (file = 'test.db') => new YlogError('STORE_FULL', `${file}: appending failed: the disk is full (SQLITE_FULL: disk is full)`),
  io: (file = 'test.db') => new YlogError('STORE_IO', `${file}: appending failed with an I/O error (SQLITE_IOERR_WRITE: disk I/O error)`),
  fsync: (file = 'test.db') => new YlogError('STORE_FAILED', `${file}: appending failed (SQLITE_IOERR_FSYNC: disk I/O error)`),
  permission: (file = 'test.db') => new YlogError('STORE_FAILED', `${file}: appending failed (SQLITE_READONLY: a readonly database)`),
} as const

/**
 * Wraps a NodeStore and fails chosen calls, for tests of what a log does
 * when its disk fills or errs. `fail(point, error, times)` arms a point;
 * `heal()` disarms every one. Counts every call per point.
 */
export class FaultyStore implements NodeStore {
  readonly inner: NodeStore
  readonly calls: Record<FaultPoint, number> = { append: 0, compact: 0, load: 0, probe: 0, fsync: 0 }
  readonly #armed = new Map<FaultPoint, { error: () => Error; times: number }>()

  constructor(inner: NodeStore) {
    this.inner = inner
  }

  /** Fails the next `times` calls at `point` (every one by default) with `error`. */
  fail(point: FaultPoint, error: () => Error, times = Number.POSITIVE_INFINITY): this {
    this.#armed.set(point, { error, times })
    return this
  }

  heal(): void {
    this.#armed.clear()
  }

  async append(records: readonly UpdateRecord[]): Promise<number> {
    this.#maybeFail('append')
    const id = await this.inner.append(records)
    this.#maybeFail('fsync')
    return id
  }

  async load(): Promise<StoredState> {
    this.#maybeFail('load')
    return this.inner.load()
  }

  async compact(parts: readonly Uint8Array[], upTo: number): Promise<void> {
    this.#maybeFail('compact')
    return this.inner.compact(parts, upTo)
  }

  /** A probe is a small write: it also fails while appends are armed to (without using up their count). */
  async probe(): Promise<void> {
    this.#maybeFail('probe')
    const append = this.#armed.get('append')
    if (append !== undefined && append.times > 0) throw append.error()
    await this.inner.probe?.()
  }

  stats(): Promise<StoreStats> {
    return this.inner.stats()
  }

  close(): Promise<void> {
    return this.inner.close()
  }

  query(query: IndexQuery): Promise<Array<{ node: NodeId; seq: number }>> {
    return this.inner.query(query)
  }

  findIdempotency(key: string): Promise<IdempotencyRecord | undefined> {
    return this.inner.findIdempotency(key)
  }

  pruneIdempotency(before: number): Promise<number> {
    return this.inner.pruneIdempotency(before)
  }

  readConsumer(name: string): Promise<ConsumerRecord | undefined> {
    return this.inner.readConsumer(name)
  }

  writeConsumer(record: ConsumerRecord): Promise<void> {
    return this.inner.writeConsumer(record)
  }

  #maybeFail(point: FaultPoint): void {
    this.calls[point]++
    const armed = this.#armed.get(point)
    if (armed === undefined || armed.times <= 0) return
    armed.times--
    throw armed.error()
  }
}
