import type { SeqRange } from '@ylog/core'

/** Sorted seqs as runs of consecutive ones. */
export function toRanges(seqs: Iterable<number>): SeqRange[] {
  const out: SeqRange[] = []
  for (const seq of [...seqs].sort((a, b) => a - b)) {
    const last = out.at(-1)
    if (last !== undefined && seq === last.to + 1) last.to = seq
    else if (last === undefined || seq > last.to) out.push({ from: seq, to: seq })
  }
  return out
}

/** [from, to] (inclusive) without the given seqs, as ranges. */
export function rangeWithout(from: number, to: number, holes: readonly number[]): SeqRange[] {
  const out: SeqRange[] = []
  let start = from
  for (const seq of [...holes].filter((s) => s >= from && s <= to).sort((a, b) => a - b)) {
    if (seq > start) out.push({ from: start, to: seq - 1 })
    start = Math.max(start, seq + 1)
  }
  if (start <= to) out.push({ from: start, to })
  return out
}

export function rangeSize(ranges: readonly SeqRange[]): number {
  return ranges.reduce((n, r) => n + r.to - r.from + 1, 0)
}
