import { bytesEqual, toHex, ZERO_HASH } from '../entry/bytes.js'
import { peekEntry } from '../entry/entry.js'
import type { NodeId } from '../entry/identity.js'
import { YlogError } from '../errors.js'

/**
 * A run of one node's entries checked outside the log, as the guard would:
 * each entry with `checkEntry` (well formed, of `node`, at its seq) and the
 * run with `verifyRun` from the entry before `fromSeq` (hash links, seqs,
 * time order, the signature). A bulk import checks this way on a worker
 * thread, so that the log's thread only places the run.
 */
export interface CheckedRun {
  node: NodeId
  fromSeq: number
  entries: readonly Uint8Array[]
  /** Each entry's SHA-256, as verifyRun returned them. */
  hashes: readonly Uint8Array[]
}

/** What placing a run needs to know of the log. */
export interface RunView {
  isMember(node: NodeId): boolean
  /** Entries held for the node (applied, committed or not). */
  length(node: NodeId): number
  bytes(node: NodeId, seq: number): Uint8Array | undefined
  /** The node's last held entry: its hash (zeros before seq 0) and at. */
  head(node: NodeId): { hash: Uint8Array; at: number }
}

export interface RunPlan {
  fromSeq: number
  entries: Uint8Array[]
  hashes: Uint8Array[]
  lastAt: number
}

/**
 * Where a checked run goes: the part of it the log does not hold yet, which
 * must continue the node's held head exactly (seq, prev hash, time). Entries
 * the log holds already must be the same bytes. Undefined when there is
 * nothing new. Pure: reads `view`, changes nothing. Throws NOT_MEMBER,
 * BROKEN_CHAIN (the run starts past the head, or links to another entry) or
 * FORKED (other bytes at a held seq, which the caller found validly signed).
 */
export function planCheckedRun(view: RunView, run: CheckedRun): RunPlan | undefined {
  const { node, fromSeq } = run
  if (!view.isMember(node)) throw new YlogError('NOT_MEMBER', `node ${node} is not a member of this log; its entries cannot be added`)
  const held = view.length(node)
  if (fromSeq > held) {
    const holds = held === 0 ? 'none' : `0-${held - 1}`
    throw new YlogError('BROKEN_CHAIN', `node ${node} seq ${fromSeq}: this log holds seqs ${holds} of it; the seqs between are missing`)
  }
  const overlap = Math.min(held - fromSeq, run.entries.length)
  for (let i = 0; i < overlap; i++) {
    const seq = fromSeq + i
    if (!bytesEqual(view.bytes(node, seq) as Uint8Array, run.entries[i] as Uint8Array)) {
      throw new YlogError('FORKED', `node ${node} seq ${seq}: a validly signed entry other than the one held here: the node forked`)
    }
  }
  if (overlap === run.entries.length) return undefined
  const entries = run.entries.slice(overlap) as Uint8Array[]
  const first = peekEntry(entries[0] as Uint8Array)
  // What is new starts right after the held head (the overlap, if any, ended on it).
  const head = view.head(node)
  if (first === undefined || !bytesEqual(first.prev, held === 0 ? ZERO_HASH : head.hash) || first.at < head.at) {
    const detail =
      first === undefined ? 'not an entry' : `prev ${toHex(first.prev).slice(0, 16)}… is not the hash of the entry held before it`
    throw new YlogError('BROKEN_CHAIN', `node ${node} seq ${held}: ${detail}, or its time is earlier`)
  }
  return {
    fromSeq: held,
    entries,
    hashes: run.hashes.slice(overlap) as Uint8Array[],
    lastAt: peekEntry(entries[entries.length - 1] as Uint8Array)?.at ?? 0,
  }
}
