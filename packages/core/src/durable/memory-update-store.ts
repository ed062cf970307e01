import type {
  ConsumerRecord,
  IdempotencyRecord,
  IndexQuery,
  IndexRow,
  NodeStore,
  StoredState,
  StoreStats,
  TimePosition,
  UpdateRecord,
} from './update-store.js'
import type { NodeId } from '../entry/identity.js'
import { YlogError } from '../errors.js'

interface MemoryData {
  snapshot: Uint8Array[]
  snapshotUpTo: number
  updates: Array<{ id: number; update: Uint8Array }>
  nextId: number
  index: IndexRow[]
  idempotency: Map<string, IdempotencyRecord>
  consumers: Map<string, ConsumerRecord>
}

/** A NodeStore in memory: for tests, and the reference for real backends. */
export class MemoryUpdateStore implements NodeStore {
  readonly #data: MemoryData
  #closed = false

  constructor(data?: MemoryData) {
    this.#data = data ?? { snapshot: [], snapshotUpTo: 0, updates: [], nextId: 1, index: [], idempotency: new Map(), consumers: new Map() }
  }

  /** A new store over the same contents, as if the process had restarted. */
  reopened(): MemoryUpdateStore {
    return new MemoryUpdateStore(this.#data)
  }

  async append(records: readonly UpdateRecord[]): Promise<number> {
    const d = this.#open()
    for (const record of records) {
      d.updates.push({ id: d.nextId++, update: record.update })
      d.index.push(...record.entries)
      if (record.idempotency !== undefined) d.idempotency.set(record.idempotency.key, { ...record.idempotency })
    }
    return d.nextId - 1
  }

  async load(): Promise<StoredState> {
    const d = this.#open()
    return { snapshot: [...d.snapshot], tail: d.updates.filter((u) => u.id > d.snapshotUpTo).map((u) => u.update), lastId: d.nextId - 1 }
  }

  async compact(parts: readonly Uint8Array[], upTo: number): Promise<void> {
    const d = this.#open()
    if (!Number.isSafeInteger(upTo) || upTo < d.snapshotUpTo || upTo >= d.nextId) {
      throw new YlogError(
        'BAD_ARGUMENT',
        `compact: upTo must be an update id between the snapshot's ${d.snapshotUpTo} and the last id ${d.nextId - 1}, got ${upTo}`,
      )
    }
    d.snapshot.push(...parts)
    d.snapshotUpTo = upTo
    d.updates = d.updates.filter((u) => u.id > upTo)
  }

  async query(query: IndexQuery): Promise<Array<{ node: NodeId; seq: number }>> {
    const d = this.#open()
    if (query.after !== undefined && (query.newestFirst === true || query.before !== undefined)) {
      throw new YlogError(
        'BAD_ARGUMENT',
        'query: after (a cursor, in node order) cannot be combined with newestFirst or before (time order)',
      )
    }
    const before = query.before
    const rows = d.index.filter(
      (r) =>
        r.seq >= (query.after?.get(r.node) ?? 0) &&
        (query.since === undefined || r.at >= query.since) &&
        (query.until === undefined || r.at < query.until) &&
        (before === undefined || compareByTime(r, before) < 0) &&
        (query.topic === undefined || r.topic === query.topic) &&
        (query.kind === undefined || r.kind === query.kind) &&
        (query.subject === undefined || (r.kind === 'transition' && r.subject === query.subject)),
    )
    const byTime =
      query.newestFirst === true ||
      (query.after === undefined && (query.since !== undefined || query.until !== undefined || before !== undefined))
    rows.sort(byTime ? compareByTime : (a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : a.seq - b.seq))
    if (query.newestFirst === true) rows.reverse()
    return rows.slice(0, query.limit).map(({ node, seq }) => ({ node, seq }))
  }

  async findIdempotency(key: string): Promise<IdempotencyRecord | undefined> {
    const found = this.#open().idempotency.get(key)
    return found === undefined ? undefined : { ...found }
  }

  async pruneIdempotency(before: number): Promise<number> {
    const d = this.#open()
    const at = new Map(d.index.map((r) => [`${r.node}:${r.seq}`, r.at]))
    let pruned = 0
    for (const [key, record] of d.idempotency) {
      if ((at.get(`${record.node}:${record.seq}`) ?? Number.POSITIVE_INFINITY) < before) {
        d.idempotency.delete(key)
        pruned++
      }
    }
    return pruned
  }

  async readConsumer(name: string): Promise<ConsumerRecord | undefined> {
    const found = this.#open().consumers.get(name)
    return found === undefined ? undefined : { ...found }
  }

  async writeConsumer(record: ConsumerRecord): Promise<void> {
    this.#open().consumers.set(record.name, { ...record })
  }

  async stats(): Promise<StoreStats> {
    const d = this.#data
    const updateBytes = d.updates.reduce((n, u) => n + u.update.byteLength, 0)
    const snapshotBytes = d.snapshot.reduce((n, part) => n + part.byteLength, 0)
    return { updates: d.updates.length, updateBytes, snapshotBytes, totalBytes: updateBytes + snapshotBytes }
  }

  async close(): Promise<void> {
    this.#closed = true
  }

  #open(): MemoryData {
    if (this.#closed) throw new YlogError('CLOSED', 'the store is closed')
    return this.#data
  }
}

/** (at, node, seq) order, node ids as text: the order time queries answer in. */
function compareByTime(a: TimePosition, b: TimePosition): number {
  return a.at !== b.at ? a.at - b.at : a.node < b.node ? -1 : a.node > b.node ? 1 : a.seq - b.seq
}
