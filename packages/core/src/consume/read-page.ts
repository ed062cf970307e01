import type { Cursor } from '../entry/cursor.js'
import type { DurableLog } from '../durable/durable-log.js'
import { decodeEntry, type Entry, type EntryKind } from '../entry/entry.js'
import { YlogError } from '../errors.js'
import type { NodeId } from '../entry/identity.js'
import { firstAtOrAfter } from '../doc/reads.js'
import { logDocOf } from '../durable/committed-log.js'

export interface PageQuery {
  /** Continue after this cursor (default: the start of the log). */
  after?: Cursor
  /** Only entries with at >= since (ms). */
  since?: number
  topic?: string
  kind?: EntryKind
  limit: number
  /**
   * Ends the page early once its entries' encoded bytes reach this (default
   * 4 MiB; a page holds at least one entry): with entries of up to 64 KiB,
   * `limit` alone would allow pages of tens of MB.
   */
  maxBytes?: number
}

export const DEFAULT_PAGE_BYTES = 4 * 1024 * 1024

export interface Page {
  entries: Entry[]
  /** Where the next page starts; pass it as `after` (with the same filters). */
  next: Cursor
}

/**
 * One page of committed entries in (node, seq) order: what HTTP reads and
 * polling consumers use. Only committed entries are shown, so nothing a
 * reader saw can vanish in a crash.
 *
 * `since` becomes a per-node starting seq (a binary search: a node's `at`
 * never decreases), so a time query is a cursor query and `next` needs no
 * time in it. Topic and kind filters go to the store's index, and `next`
 * skips past the non-matching entries the page scanned, so a rare topic
 * does not make every poll rescan the log.
 */
export async function readPage(durable: DurableLog, query: PageQuery): Promise<Page> {
  const { limit } = query
  if (!Number.isSafeInteger(limit) || limit < 1) throw new YlogError('BAD_ARGUMENT', `limit must be a positive integer, got ${limit}`)
  const log = logDocOf(durable)
  const nodes = log.nodes()
  // Captured before reading: everything below it is in the document and in the store's index.
  const committed = new Map(nodes.map((node) => [node, durable.committedLength(node)]))
  const start = new Map<NodeId, number>(query.after ?? [])
  if (query.since !== undefined) {
    for (const node of nodes)
      start.set(node, Math.max(start.get(node) ?? 0, Math.min(firstAtOrAfter(log, node, query.since), committed.get(node) ?? 0)))
  }
  const next = new Map(start)
  const entries: Entry[] = []
  let bytesLeft = query.maxBytes ?? DEFAULT_PAGE_BYTES

  if (query.topic === undefined && query.kind === undefined) {
    for (const node of nodes) {
      const from = start.get(node) ?? 0
      let to = Math.min(committed.get(node) ?? 0, from + (limit - entries.length))
      for (let seq = from; seq < to; seq++) {
        const bytes = log.getBytes(node, seq) as Uint8Array
        entries.push(decodeEntry(bytes))
        bytesLeft -= bytes.byteLength
        if (bytesLeft <= 0) to = seq + 1
      }
      if (to > from) next.set(node, to)
      if (entries.length >= limit || bytesLeft <= 0) break
    }
    return { entries, next }
  }

  const positions = await durable.query({ after: start, topic: query.topic, kind: query.kind, limit })
  // Where the page stopped short of the index's answer (full, or over maxBytes): nodes before it are scanned through.
  let stoppedAt: NodeId | undefined = positions.length >= limit ? positions[positions.length - 1]?.node : undefined
  for (let i = 0; i < positions.length; i++) {
    const { node, seq } = positions[i] as { node: NodeId; seq: number }
    // The index may already hold rows committed after `committed` was read; the next page shows them.
    if (seq >= (committed.get(node) ?? 0)) continue
    const bytes = log.getBytes(node, seq) as Uint8Array
    entries.push(decodeEntry(bytes))
    next.set(node, seq + 1)
    bytesLeft -= bytes.byteLength
    if (bytesLeft <= 0 && i < positions.length - 1) {
      stoppedAt = node
      break
    }
  }
  // Nodes the scan went past hold nothing more that matches below `committed`.
  for (const node of nodes) {
    if (stoppedAt !== undefined && node >= stoppedAt) break
    next.set(node, Math.max(next.get(node) ?? 0, committed.get(node) ?? 0))
  }
  return { entries, next }
}
