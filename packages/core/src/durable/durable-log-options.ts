// The options and callbacks DurableLog's API speaks in (durable-log.ts).
import type { LogDocOptions } from '../doc/log-types.js'
import type { EntryIndex, IndexRow, UpdateStore } from './update-store.js'
import type { RetryOptions } from './store-health.js'

export interface DurableLogOptions extends LogDocOptions {
  /** The update log, and the read index its records write to (a NodeStore has both). */
  store: UpdateStore & EntryIndex
  /**
   * Compact when this many updates follow the snapshot (default 20,000)...
   * Many small updates (a trickle of appends, one per commit) replay slowly
   * one by one; compaction turns them into a few large snapshot parts.
   */
  compactAfterUpdates?: number
  /**
   * ...or when they add up to this many bytes (default 16 MiB). This bounds
   * what replay verifies entry by entry after a restart (the snapshot was
   * verified before it was written), and how long one compaction takes: it
   * writes only the tail, whatever the size of the log.
   */
  compactAfterBytes?: number
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
  /**
   * After a commit fails for a reason that can pass (STORE_FULL, STORE_IO),
   * how often to try again (default: after 250 ms, doubling up to 10 s).
   */
  retry?: RetryOptions
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

/** One compaction: the updates it covers, what it added to the snapshot, and how long commits waited for it. */
export interface CompactionInfo {
  upTo: number
  /** Bytes of the parts this compaction added. */
  addedBytes: number
  /** Bytes of the whole snapshot after it. */
  snapshotBytes: number
  seconds: number
}

export type CompactionListener = (info: CompactionInfo) => void
