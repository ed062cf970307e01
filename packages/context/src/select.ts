import type { Entry, IndexQuery, NodeId, TimePosition } from '@ylog/core'
import type { ContextOptions, ContextSource } from './types.js'

/** The first page of each index stream is small (most contexts need a few hundred entries); later pages grow to this. */
const FIRST_PAGE = 128
const MAX_PAGE = 2048

/** The selection as index filters, without the time bounds every query shares. */
interface Stream {
  topic?: string
  kind?: 'transition' | 'event'
}

/**
 * The selected entries, newest first in (at, node, seq) order, read
 * backwards through the store's index a page at a time, so only what is
 * shown (and the summary's scan) is ever read. Several topics or kinds are
 * one index stream each, merged. Gap entries are left out: they are named
 * on their own (see `selectGaps`).
 */
export async function* newestFirst(source: ContextSource, options: ContextOptions): AsyncGenerator<Entry> {
  const nodes = options.nodes === undefined ? undefined : new Set(options.nodes)
  const heads = await Promise.all(
    streamsOf(options).map(async (stream) => {
      const reader = readStream(source, options, stream, nodes)
      return { reader, next: await reader.next() }
    }),
  )
  for (;;) {
    let newest: (typeof heads)[number] | undefined
    for (const head of heads) {
      if (head.next.done === true) continue
      if (newest === undefined || compareByTime(head.next.value, newest.next.value as Entry) > 0) newest = head
    }
    if (newest === undefined || newest.next.done === true) return
    yield newest.next.value
    newest.next = await newest.reader.next()
  }
}

function streamsOf(options: ContextOptions): Stream[] {
  const kinds =
    options.subject !== undefined
      ? (['transition'] as const).filter((k) => options.kinds === undefined || options.kinds.includes(k))
      : options.kinds
  const topics: Array<string | undefined> = options.topics === undefined ? [undefined] : [...new Set(options.topics)]
  const kindList: Array<'transition' | 'event' | undefined> = kinds === undefined ? [undefined] : [...new Set(kinds)]
  return topics.flatMap((topic) => kindList.map((kind) => ({ ...(topic !== undefined && { topic }), ...(kind !== undefined && { kind }) })))
}

async function* readStream(
  source: ContextSource,
  options: ContextOptions,
  stream: Stream,
  nodes: Set<NodeId> | undefined,
): AsyncGenerator<Entry> {
  const base: IndexQuery = { ...stream, ...timeBounds(options), newestFirst: true, limit: FIRST_PAGE }
  if (options.subject !== undefined) base.subject = options.subject
  let before: TimePosition | undefined
  let limit = FIRST_PAGE
  for (;;) {
    const page = await source.query({ ...base, limit, ...(before !== undefined && { before }) })
    let moved = false
    for (const { node, seq } of page) {
      // The index may run ahead of the commits readers may see (the newest rows, for a moment); get() answers committed entries only.
      const entry = source.get(node, seq)
      if (entry === undefined) continue
      before = { at: entry.at, node, seq }
      moved = true
      if (entry.kind === 'gap' || (nodes !== undefined && !nodes.has(node))) continue
      yield entry
    }
    if (page.length < limit) return
    // A full page of rows not yet visible: read a longer one from the same place, within reason.
    if (!moved && limit >= MAX_PAGE * 8) return
    limit = Math.min(limit * 2, moved ? MAX_PAGE : MAX_PAGE * 8)
  }
}

/** The gap entries in the selection, oldest first: the topics asked for and the topics of mixed losses, any kind or subject. */
export async function selectGaps(source: ContextSource, options: ContextOptions): Promise<Entry[]> {
  const topics = options.topics === undefined ? [undefined] : [...new Set([...options.topics, ...(options.gapTopics ?? ['ylog.gaps'])])]
  const nodes = options.nodes === undefined ? undefined : new Set(options.nodes)
  const found: Entry[] = []
  for (const topic of topics) {
    const rows = await source.query({
      kind: 'gap',
      ...(topic !== undefined && { topic }),
      ...timeBounds(options),
      limit: Number.POSITIVE_INFINITY,
    })
    for (const { node, seq } of rows) {
      const entry = source.get(node, seq)
      if (entry !== undefined && (nodes === undefined || nodes.has(node))) found.push(entry)
    }
  }
  return found.sort(compareByTime)
}

function timeBounds(options: ContextOptions): Pick<IndexQuery, 'since' | 'until'> {
  return { ...(options.since !== undefined && { since: options.since }), ...(options.until !== undefined && { until: options.until }) }
}

/**
 * The seqs of a node inside the time selection, [from, to): a node's `at`
 * never decreases along its seqs, so each bound is a binary search.
 */
export function seqBounds(source: ContextSource, node: NodeId, options: ContextOptions): { from: number; to: number } {
  const length = source.committedLength(node)
  const firstAtOrAfter = (time: number | undefined, fallback: number): number => {
    if (time === undefined) return fallback
    let lo = 0
    let hi = length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if ((source.get(node, mid)?.at ?? Number.POSITIVE_INFINITY) < time) lo = mid + 1
      else hi = mid
    }
    return lo
  }
  return { from: firstAtOrAfter(options.since, 0), to: firstAtOrAfter(options.until, length) }
}

/** (at, node, seq) order, node ids as text. */
export function compareByTime(a: TimePosition, b: TimePosition): number {
  return a.at !== b.at ? a.at - b.at : a.node < b.node ? -1 : a.node > b.node ? 1 : a.seq - b.seq
}
