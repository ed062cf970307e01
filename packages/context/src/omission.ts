import type { Entry, NodeId, SeqRange } from '@ylog/core'
import { rangeSize, rangeWithout } from './ranges.js'
import { omittedText } from './render.js'
import { seqBounds } from './select.js'
import type { ContextOptions, ContextSource, DroppedRange, OmissionInfo } from './types.js'

/** The line about the entries left out for the budget, and what it is made of. */
export interface Omission {
  text: string
  detail: Record<string, unknown>
  info: OmissionInfo
}

interface KnownGaps {
  gaps: ReadonlyArray<DroppedRange & { node: NodeId }>
  nodes: readonly NodeId[]
}

/**
 * Which seqs of each node were left out, how many entries that is, and what
 * they were. Entries shown are the newest of the selection, so each node's
 * shown entries are the end of its selected seqs, and what was left out lies
 * below the oldest one shown: one range per node, less the gap entries
 * (named as dropped). Without topic, kind or subject filters every entry in
 * the range was selected, so the count is exact; with them, it is exact when
 * the summary's scan read every entry left out.
 */
export async function omission(
  source: ContextSource,
  options: ContextOptions,
  known: KnownGaps,
  shown: readonly Entry[],
  left: readonly Entry[],
  complete: boolean,
): Promise<Omission> {
  const filtered = options.topics !== undefined || options.kinds !== undefined || options.subject !== undefined
  const ranges: Array<{ node: NodeId; ranges: SeqRange[] }> = []
  for (const node of known.nodes) {
    const bounds = seqBounds(source, node, options)
    const firstShown = Math.min(bounds.to, ...shown.filter((e) => e.node === node).map((e) => e.seq))
    const seen = left.filter((e) => e.node === node).map((e) => e.seq)
    // With filters and a complete scan, the entries seen are all there is: the range ends at the newest of them.
    const to = filtered && complete ? (seen.length === 0 ? -1 : Math.max(...seen)) : firstShown - 1
    const from = filtered && complete ? Math.min(...seen) : bounds.from
    const gapSeqs = known.gaps.filter((g) => g.node === node).map((g) => g.seq)
    const nodeRanges = to < from ? [] : rangeWithout(from, to, gapSeqs)
    if (nodeRanges.length > 0) ranges.push({ node, ranges: nodeRanges })
  }
  const count = complete ? left.length : filtered ? null : ranges.reduce((n, r) => n + rangeSize(r.ranges), 0)
  const info: OmissionInfo = { count, ranges, complete }
  const what = options.summarize === undefined ? describe(left, complete) : await options.summarize(left, info)
  return { text: omittedText(count, ranges, what), detail: { count, ranges, complete, summary: what }, info }
}

/** Counts by topic and kind, most first, and how many subjects: deterministic, and short whatever was left out. */
export function describe(entries: readonly Entry[], complete: boolean): string {
  const byTopicKind = new Map<string, number>()
  const subjects = new Set<string>()
  for (const entry of entries) {
    const key = `${entry.topic} ${entry.kind === 'transition' ? 'transitions' : 'events'}`
    byTopicKind.set(key, (byTopicKind.get(key) ?? 0) + 1)
    if (entry.kind === 'transition') subjects.add(entry.data.subject)
  }
  const counts = [...byTopicKind]
    .sort(([a, x], [b, y]) => y - x || (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, n]) => `${n.toLocaleString('en-US')} ${key}`)
  const subjectPart =
    subjects.size === 0 ? '' : `; ${subjects.size.toLocaleString('en-US')} ${subjects.size === 1 ? 'subject' : 'subjects'}`
  const scope = complete ? '' : `the newest ${entries.length.toLocaleString('en-US')} of them: `
  return `${scope}${counts.join(', ')}${subjectPart}`
}
