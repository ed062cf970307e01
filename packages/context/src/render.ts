import type { Entry, ForkEvidence, NodeId, SeqRange } from '@ylog/core'
import type { ContextFormat, DroppedRange } from './types.js'

/** The first 8 hex digits of a node id: short enough for every line; the manifest has the full ids. */
export function shortId(node: NodeId): string {
  return node.slice(0, 8)
}

function iso(ms: number): string {
  return new Date(ms).toISOString()
}

function ranges(list: readonly SeqRange[]): string {
  return list.map((r) => (r.from === r.to ? `${r.from}` : `${r.from}–${r.to}`)).join(', ')
}

/** What an entry says, without where it comes from: a transition as one readable phrase, anything else as compact JSON. */
function body(entry: Entry): string {
  if (entry.kind === 'transition') {
    const { subject, from, to, event } = entry.data
    return `${subject}: ${from} → ${to} (${event})`
  }
  return JSON.stringify(entry.data)
}

/** The built-in line of an entry in the text and markdown formats: time, node and seq, topic, what happened. */
export function entryLine(entry: Entry): string {
  const eventTime = entry.time === undefined ? '' : ` (event time ${iso(entry.time)})`
  return `${iso(entry.at)} ${shortId(entry.node)}#${entry.seq} ${entry.topic} ${body(entry)}${eventTime}`
}

/** An entry's identifying fields, in the order a JSON line gives them. */
export function entryHeader(entry: Entry): Record<string, unknown> {
  const { node, seq, at, time, topic, kind } = entry
  return { type: 'entry', id: `${node}:${seq}`, node, seq, at, ...(time !== undefined && { time }), topic, kind }
}

/** An entry as one JSON line, for tool-calling agents: everything but the signature and chain link. */
export function entryJson(entry: Entry): string {
  return JSON.stringify({ ...entryHeader(entry), data: entry.data, hash: entry.hash })
}

/** The seed's sentence for a gap entry: which events, which stream, which node wrote it down and when. */
export function droppedText(gap: DroppedRange & { node: NodeId }): string {
  return (
    `events between ${gap.from} and ${gap.to} were dropped (stream ${gap.stream}; recorded by node ${shortId(gap.node)} as ` +
    `seq ${gap.seq} at ${iso(gap.at)})`
  )
}

export function missingText(node: NodeId, missing: readonly SeqRange[]): string {
  return `node ${shortId(node)}: seqs ${ranges(missing)} exist but have not reached this node yet`
}

export function forkText(fork: Pick<ForkEvidence, 'node' | 'seq'>): string {
  return (
    `node ${shortId(fork.node)} signed two different entries for seq ${fork.seq}: its entries from seq ${fork.seq} on ` +
    `cannot be trusted`
  )
}

export function omittedText(count: number | null, perNode: ReadonlyArray<{ node: NodeId; ranges: SeqRange[] }>, what: string): string {
  const where = perNode.map((n) => `node ${shortId(n.node)} seqs ${ranges(n.ranges)}`).join('; ')
  const how = count === null ? 'older entries' : `${count.toLocaleString('en-US')} older ${count === 1 ? 'entry' : 'entries'}`
  return `${how} (${where})${what === '' ? '' : `: ${what}`}`
}

/** One kind of line about what is missing, with its label: dropped at the source, not yet here, forked, left out for the budget. */
export type MissingKind = 'dropped' | 'not yet here' | 'forked' | 'left out for the budget'

/**
 * Lays out the context in a format: the preamble, what is missing (never
 * trimmed), then the entries. Each piece is its own line, so a piece's
 * tokens can be counted once and the pieces added up.
 */
export class Layout {
  constructor(readonly format: ContextFormat) {}

  missingHeader(nothing: boolean): string {
    if (this.format === 'jsonl') return JSON.stringify({ type: 'missing', nothing })
    const text = nothing ? 'Missing from this context: nothing.' : 'Missing from this context:'
    return this.format === 'markdown' ? `## ${text}` : text
  }

  missing(kind: MissingKind, text: string, detail: Record<string, unknown>): string {
    if (this.format === 'jsonl') return JSON.stringify({ type: kind.replaceAll(' ', '-'), ...detail, text })
    return `- ${kind}: ${text}`
  }

  entriesHeader(shown: number, order: 'time' | 'node'): string {
    if (this.format === 'jsonl') return JSON.stringify({ type: 'entries', count: shown, order })
    const text = `Entries (${shown}, ${order === 'time' ? 'oldest first' : 'by node, in seq order'}):`
    return this.format === 'markdown' ? `## ${text}` : text
  }

  entry(entry: Entry, render: ((entry: Entry) => string) | undefined): string {
    if (this.format === 'jsonl') return entryJson(entry)
    const line = (render ?? entryLine)(entry)
    return this.format === 'markdown' ? `- ${line}` : line
  }
}
