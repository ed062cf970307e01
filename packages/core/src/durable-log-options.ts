// The options and callbacks DurableLog's API speaks in (durable-log.ts).
import type { LogDocOptions } from './log-types.js'
import type { IndexRow, UpdateStore } from './update-store.js'

export interface DurableLogOptions extends LogDocOptions {
  store: UpdateStore
  /**
   * Compact when this many updates follow the snapshot (default 20,000), or
   * `compactRatio` times the updates the snapshot covers, whichever is more.
   */
  compactAfterUpdates?: number
  /** ...or when they add up to this many bytes, or `compactRatio` of the snapshot's bytes (default 64 MiB). */
  compactAfterBytes?: number
  /**
   * Each compaction rewrites the whole snapshot, so a fixed threshold makes
   * writes grow with the square of the log. Letting the tail grow with the
   * snapshot keeps total writes linear (default 0.5: at most 3x the data);
   * the price is a longer tail to replay after a crash.
   */
  compactRatio?: number
  /** Called during replay with (applied, total) tail updates. */
  onReplayProgress?: (applied: number, total: number) => void
  /**
   * What replay verifies. 'tail' (default): the chains of entries after the
   * snapshot; the snapshot itself was verified before it was written and the
   * store checks its checksum. 'full': every chain from seq 0.
   */
  verify?: 'tail' | 'full'
  /**
   * Where appends are signed. 'inline' (default): in `append`, on the
   * caller's thread. 'thread': on a worker thread, so signing overlaps with
   * the Yjs and store work of other appends (the node daemon's choice).
   */
  signing?: 'inline' | 'thread'
}

/** Called after each commit with what it wrote: the updates (for peers) and the entries they added (for readers), in order. */
export type CommitListener = (info: CommitInfo, updates: readonly Uint8Array[], entries: readonly IndexRow[]) => void


export interface AppendOptions {
  /**
   * Stored with the entries in the same commit (UpdateStore.findIdempotency
   * finds it later). Checking that the key is new is the caller's job.
   */
  idempotency?: { key: string; requestHash: Uint8Array }
}

export interface CommitInfo {
  records: number
  entries: number
  seconds: number
}

/** One compaction: the snapshot written, the updates it covers, and how long commits waited for it. */
export interface CompactionInfo {
  upTo: number
  snapshotBytes: number
  seconds: number
}

export type CompactionListener = (info: CompactionInfo) => void
