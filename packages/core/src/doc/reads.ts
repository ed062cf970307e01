import { decodeEntry, peekEntry, type Entry } from '../entry/entry.js'
import type { Cursor } from '../entry/cursor.js'
import type { NodeId } from '../entry/identity.js'
import type { LogDoc } from './log-doc.js'

/** What the reads need of a log: its nodes, each node's length, an entry's bytes. */
interface Readable {
  getBytes(node: NodeId, seq: number): Uint8Array | undefined
  length(node: NodeId): number
  nodes(): NodeId[]
}

/** Entries of one node with from <= seq < to, in seq order. */
export function* readRange(log: Readable, node: NodeId, from = 0, to = log.length(node)): Generator<Entry> {
  const end = Math.min(to, log.length(node))
  for (let seq = Math.max(0, from); seq < end; seq++) yield decodeEntry(log.getBytes(node, seq) as Uint8Array)
}

/** Every entry in the deterministic order (node, seq). */
export function* readAll(log: Readable): Generator<Entry> {
  for (const node of log.nodes()) yield* readRange(log, node)
}

/**
 * Up to `limit` entries not yet covered by `cursor`, in (node, seq) order,
 * and the cursor to continue from. New entries of a node already passed are
 * picked up by the next call, because the cursor keeps a position per node.
 */
export function readAfter(log: Readable, cursor: Cursor, limit: number): { entries: Entry[]; next: Cursor } {
  const next = new Map(cursor)
  const entries: Entry[] = []
  for (const node of log.nodes()) {
    if (entries.length >= limit) break
    const from = cursor.get(node) ?? 0
    const to = Math.min(log.length(node), from + (limit - entries.length))
    for (const entry of readRange(log, node, from, to)) entries.push(entry)
    if (to > from) next.set(node, to)
  }
  return { entries, next }
}

/**
 * Every entry with at >= since, merged by (at, node, seq). Each node's `at`
 * never decreases along its chain (append clamps, the guard refuses a step
 * back), so this is a k-way merge that starts each node with a binary search.
 */
export function* readMerged(log: Readable, since = 0): Generator<Entry> {
  const atOf = (node: NodeId, seq: number): number => peekEntry(log.getBytes(node, seq) as Uint8Array)?.at ?? 0
  // Each head keeps the `at` of its next entry, so a step peeks one entry, not all k.
  let live = log
    .nodes()
    .map((node) => ({ node, seq: firstAtOrAfter(log, node, since), end: log.length(node), at: 0 }))
    .filter((h) => h.seq < h.end)
  for (const h of live) h.at = atOf(h.node, h.seq)
  while (live.length > 0) {
    let best = live[0] as (typeof live)[number]
    for (let i = 1; i < live.length; i++) if ((live[i] as (typeof live)[number]).at < best.at) best = live[i] as (typeof live)[number]
    yield decodeEntry(log.getBytes(best.node, best.seq) as Uint8Array)
    best.seq++
    if (best.seq >= best.end) live = live.filter((h) => h !== best)
    else best.at = atOf(best.node, best.seq)
  }
}

/** The first seq of `node` with at >= since (its length if none): `at` never decreases along a chain. */
export function firstAtOrAfter(log: Readable, node: NodeId, since: number): number {
  let lo = 0
  let hi = log.length(node)
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    const at = peekEntry(log.getBytes(node, mid) as Uint8Array)?.at ?? 0
    if (at < since) lo = mid + 1
    else hi = mid
  }
  return lo
}

/** What applied updates left waiting for (structs or deletions of clocks never seen), or undefined when nothing is. */
export function missingDependencies(log: LogDoc): string | undefined {
  const { pendingStructs, pendingDs } = log.doc.store
  if (pendingStructs !== null) {
    const missing = [...pendingStructs.missing].map(([client, clock]) => `client ${client} clock ${clock}`)
    return `structs wait for missing ones (${missing.join(', ')})`
  }
  if (pendingDs !== null) return 'deletions name structs that were never stored'
  return undefined
}
