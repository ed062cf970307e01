/**
 * For ylog's own packages only (`@ylog/core/internal`): pieces the sibling
 * packages share with core that are not part of the public API and may
 * change with any release.
 */
export { startModuleWorker } from './durable/module-worker.js'
export { KeyedSerial, Serial } from './consume/serial.js'
/** What to do about a damaged store: every store error that means "the bytes are gone" ends with it. */
export { RESTORE_ADVICE } from './durable/replay.js'
/** A DurableLog's document, for tests that must craft updates against it or plant what a peer announced. */
export { logDocOf } from './durable/committed-log.js'
/** The document's layout (doc/layout.ts): where each node's entries sit, by Yjs client and clock. */
export { ROOT_MAP, SEGMENT_SIZE, entryClock, segmentClock, entriesBelowClock } from './doc/layout.js'
/** Updates taken apart and put together, for the sync package and for tests that craft what peers send. */
export { encodeDiffChunks } from './doc/diff-chunks.js'
export { splitUpdateByClient, encodeStructGroups } from './doc/split-update.js'
export { scanUpdate, ScanRefusal, MIN_ENTRY_BYTES, MAX_UPDATE_CLIENTS, type UpdateScan, type ScannedGroup } from './doc/update-scan.js'
/** Bulk import: a run of entries checked on another thread, placed without the guard (see applyCheckedRun). */
export { applyCheckedRun } from './durable/durable-log.js'
export type { CheckedRun } from './doc/checked-run.js'
/** Byte-for-byte equality of two arrays. */
export { bytesEqual } from './entry/bytes.js'
/** Everything decodeEntry checks of an entry's bytes, without building it: what the guard checks of each entry. */
export { checkEntry } from './entry/entry.js'
/** Runs of one node's small records merged into one update each, with how many records each holds (the SQLite store's journal moves). */
export { mergeRecordRuns, MERGE_MAX_BYTES, type MergedRun } from './durable/merge-records.js'
