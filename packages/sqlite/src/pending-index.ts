import type { IndexQuery, IndexRow, NodeId } from '@ylog/core'

/** A position the index returns; `at` is there for time-ordered queries, which merge on it. */
export interface IndexedPosition {
  node: NodeId
  seq: number
  at?: number
}

/** Whether a query's answer comes in (at, node, seq) order rather than (node, seq) order (the ReadIndex's rule). */
export function isTimeOrdered(q: IndexQuery): boolean {
  return q.newestFirst === true || (q.after === undefined && (q.since !== undefined || q.until !== undefined || q.before !== undefined))
}

/**
 * A query's answer over the database's rows and the rows of appends still
 * in the journal: the journal's matches are filtered here as the SQL would
 * filter them, and the two sorted lists merged up to the limit. `fromDb` is
 * the database's answer to the same query with the same limit, so it holds
 * every database row that can be in the merged first `limit`.
 */
export function mergePending(
  q: IndexQuery,
  limit: number,
  fromDb: readonly IndexedPosition[],
  pending: readonly IndexRow[],
): Array<{ node: NodeId; seq: number }> {
  const byTime = isTimeOrdered(q)
  const matches = pending.filter((row) => matchesQuery(q, row))
  if (matches.length === 0) return fromDb.map(({ node, seq }) => ({ node, seq }))
  const order = byTime ? (q.newestFirst === true ? byTimeDesc : byTimeAsc) : byNodeAsc
  matches.sort(order)
  const out: Array<{ node: NodeId; seq: number }> = []
  const seen = new Set<string>()
  let i = 0
  let j = 0
  while (out.length < limit && (i < fromDb.length || j < matches.length)) {
    const a = fromDb[i]
    const b = matches[j]
    const fromDbFirst = b === undefined || (a !== undefined && order(a, b) <= 0)
    const { node, seq } = (fromDbFirst ? a : b) as IndexedPosition
    if (fromDbFirst) i++
    else j++
    const key = `${node}:${seq}`
    if (seen.has(key)) continue
    seen.add(key)
    out.push({ node, seq })
  }
  return out
}

function matchesQuery(q: IndexQuery, row: IndexRow): boolean {
  if (q.after !== undefined && row.seq < (q.after.get(row.node) ?? 0)) return false
  if (q.since !== undefined && row.at < q.since) return false
  if (q.until !== undefined && row.at >= q.until) return false
  if (q.topic !== undefined && row.topic !== q.topic) return false
  if (q.kind !== undefined && row.kind !== q.kind) return false
  if (q.subject !== undefined && (row.kind !== 'transition' || row.subject !== q.subject)) return false
  const b = q.before
  if (b !== undefined && byTimeAsc(row, { node: b.node, seq: b.seq, at: b.at }) >= 0) return false
  return true
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

function byNodeAsc(a: IndexedPosition, b: IndexedPosition): number {
  return compareText(a.node, b.node) || a.seq - b.seq
}

function byTimeAsc(a: IndexedPosition, b: IndexedPosition): number {
  return (a.at ?? 0) - (b.at ?? 0) || byNodeAsc(a, b)
}

function byTimeDesc(a: IndexedPosition, b: IndexedPosition): number {
  return byTimeAsc(b, a)
}
