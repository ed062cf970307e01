import { encodeCursor, isNodeId, YlogError, type DurableLog, type Entry, type EntryKind, type TimePosition } from '@ylog/core'

export interface BackwardsPage {
  /** Oldest first. */
  entries: Entry[]
  /** Where the page's oldest entry is: pass it as `before` for the page before; null once the start is reached. */
  prev: string | null
  /** The cursor of everything committed when the page was read: `after` it continues live with what came later. */
  next: string
}

/**
 * The newest `limit` committed entries (by at, node, seq across nodes)
 * before `before` (or the end), oldest first, from the read index's
 * newest-first order.
 */
export async function readBackwards(
  durable: DurableLog,
  query: { before?: TimePosition; topic?: string; kind?: EntryKind; limit: number },
): Promise<BackwardsPage> {
  // Captured before the index is read: entries past it (committed while reading) are left to `next`, so none is seen twice.
  const committed = new Map(durable.nodes().map((node) => [node, durable.committedLength(node)]))
  const positions = await durable.query({
    newestFirst: true,
    before: query.before,
    topic: query.topic,
    kind: query.kind,
    limit: query.limit,
  })
  const entries: Entry[] = []
  for (const { node, seq } of positions) {
    const entry = seq < (committed.get(node) ?? 0) ? durable.get(node, seq) : undefined
    if (entry !== undefined) entries.push(entry)
  }
  entries.reverse()
  const oldest = entries[0]
  const full = positions.length >= query.limit
  return { entries, prev: full && oldest !== undefined ? encodePosition(oldest) : null, next: encodeCursor(committed) }
}

/** `p1.<at>.<node>.<seq>`: an entry's place in time order, for `before`. */
export function encodePosition(entry: { at: number; node: string; seq: number }): string {
  return `p1.${entry.at}.${entry.node}.${entry.seq}`
}

export function decodePosition(text: string): TimePosition {
  // At most 15 digits: every match is a safe integer, so the pattern in the OpenAPI document is the whole rule.
  const m = /^p1\.([0-9]{1,15})\.([0-9a-f]{64})\.([0-9]{1,15})$/.exec(text)
  const at = Number(m?.[1])
  const seq = Number(m?.[3])
  if (m === null || !isNodeId(m[2] as string) || !Number.isSafeInteger(at) || !Number.isSafeInteger(seq)) {
    throw new YlogError(
      'BAD_ARGUMENT',
      `before ${JSON.stringify(text.slice(0, 100))} is not a position: use the "prev" of a page read with last= or before=`,
    )
  }
  return { at, node: m[2] as string, seq }
}
