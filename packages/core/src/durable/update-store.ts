import type { Cursor } from '../entry/cursor.js'
import type { EntryKind } from '../entry/entry.js'
import type { NodeId } from '../entry/identity.js'

/** One entry's row in a store's read index: enough to find it, not its bytes. */
export interface IndexRow {
  node: NodeId
  seq: number
  at: number
  topic: string
  kind: EntryKind
  /** A transition's subject (`data.subject`), so one work item's history is an index lookup; absent for other kinds. */
  subject?: string
}

/**
 * What an append with an idempotency key wrote: stored in the same
 * transaction as its update, so after a crash either both are there or
 * neither, and a retry can never write the entries twice.
 */
export interface IdempotencyRecord {
  key: string
  /** SHA-256 of the request the key was first used with; the same key with another request is a conflict. */
  requestHash: Uint8Array
  node: NodeId
  /** The first entry the request wrote, and how many (1, or a batch's length). */
  seq: number
  count: number
}

/** A Yjs update (v1 encoding) and the entries it adds, written together. */
export interface UpdateRecord {
  update: Uint8Array
  entries: IndexRow[]
  idempotency?: IdempotencyRecord
}

/** A named consumer's position: where it acknowledged having read up to. */
export interface ConsumerRecord {
  name: string
  /** An encoded cursor (`c1.`...). */
  cursor: string
  /** ms since the epoch of the last ack. */
  ackedAt: number
  /** The consumer reads only this topic (absent: every topic); set by its owner, kept with the position. */
  topic?: string
  /** The consumer reads only this kind (absent: every kind). */
  kind?: EntryKind
}

export interface StoredState {
  /** The snapshot: the parts compactions wrote, oldest first (Yjs v2 encoding); empty before the first. */
  snapshot: Uint8Array[]
  /**
   * Updates committed after the snapshot, oldest first (Yjs v1 encoding). A
   * store may hand back a run of one node's updates merged into one (the
   * same structs, fewer updates), and one that begins before the snapshot
   * ends: Yjs applies what it holds already once.
   */
  tail: Uint8Array[]
  /** Id of the last update in `tail` (or the one the snapshot covers); pass it to `compact`. */
  lastId: number
}

/** An entry's place in time order: (at, node, seq), node ids compared as text. */
export interface TimePosition {
  at: number
  node: NodeId
  seq: number
}

export interface IndexQuery {
  /** Only entries at or after these per-node positions. Not with `newestFirst`. */
  after?: Cursor
  /** Only entries with at >= since (milliseconds). */
  since?: number
  /** Only entries with at < until (milliseconds): `since` and `until` make a half-open interval. */
  until?: number
  /** Only entries strictly before this position in (at, node, seq) order: where the previous `newestFirst` page ended. */
  before?: TimePosition
  topic?: string
  kind?: EntryKind
  /** Only transitions of this subject (`data.subject`). */
  subject?: string
  /**
   * Newest first: (at, node, seq) order, descending. A node's `at` never
   * decreases along its seqs, so each node's entries come in descending seq
   * order; page on with `before` set to the last position returned.
   */
  newestFirst?: boolean
  limit: number
}

export interface StoreStats {
  updates: number
  updateBytes: number
  snapshotBytes: number
  /** Total bytes the store occupies (files on disk, or memory). */
  totalBytes: number
}

/**
 * Where a node keeps its Yjs update log. Bytes only; when to compact is
 * decided above (DurableLog).
 *
 * Crash guarantees every implementation must keep:
 * - `append` is atomic: after a crash either all of its records are there or
 *   none is, each with its index rows and idempotency record (see NodeStore).
 *   When the promise resolves they are committed with the store's durability
 *   setting, and the caller may acknowledge them.
 * - `compact` is atomic: a crash at any instant leaves either the old
 *   snapshot and tail, or the snapshot with the new parts and the updates
 *   after `upTo`; both replay to the same state.
 * - `load` returns exactly what was committed, or throws a StoreError naming
 *   what is wrong; it never returns partial history.
 */
export interface UpdateStore {
  append(records: readonly UpdateRecord[]): Promise<number>
  load(): Promise<StoredState>
  /**
   * Adds `parts` (Yjs v2 updates holding what the updates up to `upTo`
   * wrote) to the end of the snapshot and drops those updates. A snapshot
   * only grows, like the log: each compaction writes what is new since the
   * last one, so its cost follows the tail, never the whole log. `parts`
   * may be empty (the tail added nothing new). The store may take over the
   * parts' memory (a threaded store moves them to its thread): do not read
   * them after the call.
   */
  compact(parts: readonly Uint8Array[], upTo: number): Promise<void>
  stats(): Promise<StoreStats>
  /**
   * Writes something small with the store's durability and resolves if it
   * took it: after a failed commit, whether writes can go on (the disk has
   * room again). Rejects like `append` would. Without it, a DurableLog
   * retries with the next commit itself.
   */
  probe?(): Promise<void>
  /** The backend's own deep check (e.g. SQLite's integrity_check and checksums), if it has one. */
  checkIntegrity?(): Promise<{ ok: boolean; problems: string[] }> | { ok: boolean; problems: string[] }
  close(): Promise<void>
}

/** The read index: where committed entries are, by position, time, topic and kind (rows written by `UpdateStore.append`). */
export interface EntryIndex {
  /**
   * Entry positions matching a query: in (node, seq) order; with `since`,
   * `until` or `before` and no `after`, in (at, node, seq) order; with
   * `newestFirst`, in (at, node, seq) order descending.
   */
  query(query: IndexQuery): Promise<Array<{ node: NodeId; seq: number }>>
}

/** A node's own small tables: idempotency keys (written by `UpdateStore.append`) and named consumers' positions. */
export interface NodeTables {
  /** The request an idempotency key was first used with, if any. */
  findIdempotency(key: string): Promise<IdempotencyRecord | undefined>
  /**
   * Forgets idempotency keys whose first entry's `at` is before `before`
   * (ms since the epoch), so keys do not pile up forever; resolves with how
   * many went. A key taken again later replaces its forgotten record.
   */
  pruneIdempotency(before: number): Promise<number>
  readConsumer(name: string): Promise<ConsumerRecord | undefined>
  /** Stores a consumer's position durably (same durability as `append`). Ordering rules are the caller's. */
  writeConsumer(record: ConsumerRecord): Promise<void>
}

/**
 * One backend holds all three, in one place, because a record's update,
 * its index rows and its idempotency key must commit together.
 * Each job has its own acceptance suite in `@ylog/core/testing`.
 */
export interface NodeStore extends UpdateStore, EntryIndex, NodeTables {}
