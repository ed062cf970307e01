import * as Y from 'yjs'
import type { UpdateRecord } from './update-store.js'

/**
 * Records of a commit group are merged up to this size. Under a steady
 * trickle a group holds a few one-entry updates, and each update a peer
 * receives costs it a fixed amount in the guard (a signature check, a Yjs
 * transaction), several times what merging two costs the writer (figures
 * in docs/benchmarks.md). Large records (a busy turn's up to 256 entries)
 * gain nothing and would cost the merge.
 */
export const MERGE_MAX_BYTES = 64 * 1024

/**
 * Merges runs of small records that hold entries of one node only (and no
 * idempotency key, which names its own record) into one update each. One
 * node's entries only: a merged update then still goes nowhere it came from
 * (a relay's echo check looks at the clocks an update ends at), and its
 * entries stay one contiguous run, checked with one signature.
 */
export function mergeSmallRecords(records: UpdateRecord[], maxBytes = MERGE_MAX_BYTES): UpdateRecord[] {
  if (records.length < 2) return records
  return mergeRecordRuns(records, maxBytes).map((run) => run.record)
}

/** A record `mergeRecordRuns` returns, and how many of its input records (consecutive) it holds. */
export interface MergedRun {
  record: UpdateRecord
  count: number
}

/**
 * mergeSmallRecords, saying how many input records each output holds: a
 * store that numbers its updates (the SQLite store moving its append
 * journal) keeps the id of a run's last update for the merged one.
 */
export function mergeRecordRuns(records: readonly UpdateRecord[], maxBytes = MERGE_MAX_BYTES): MergedRun[] {
  const out: MergedRun[] = []
  let run: UpdateRecord[] = []
  let runNode: string | undefined
  let runBytes = 0
  const flush = (): void => {
    if (run.length === 1) out.push({ record: run[0] as UpdateRecord, count: 1 })
    else if (run.length > 1) {
      out.push({ record: { update: Y.mergeUpdates(run.map((r) => r.update)), entries: run.flatMap((r) => r.entries) }, count: run.length })
    }
    run = []
    runNode = undefined
    runBytes = 0
  }
  for (const record of records) {
    const node = record.update.byteLength > maxBytes ? undefined : soleNode(record)
    if (node === undefined) {
      flush()
      out.push({ record, count: 1 })
      continue
    }
    if (node !== runNode || runBytes + record.update.byteLength > maxBytes) flush()
    run.push(record)
    runNode = node
    runBytes += record.update.byteLength
  }
  flush()
  return out
}

function soleNode(record: UpdateRecord): string | undefined {
  if (record.idempotency !== undefined) return undefined
  const first = record.entries[0]
  if (first === undefined) return undefined
  for (const row of record.entries) if (row.node !== first.node) return undefined
  return first.node
}
