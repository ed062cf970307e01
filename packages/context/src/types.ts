import type { DurableLog, Entry, EntryKind, NodeId, SeqRange } from '@ylog/core'
import type { CountTokens } from './tokenizer.js'

/** The read calls assembly uses: a DurableLog (committed state only), or anything answering the same. */
export type ContextSource = Pick<DurableLog, 'get' | 'committedLength' | 'nodes' | 'holes' | 'forks' | 'query'>

export type ContextFormat = 'text' | 'markdown' | 'jsonl'
/** `time`: oldest first across nodes, by (at, node, seq). `node`: grouped by node (ids in text order), each in seq order. */
export type ContextOrder = 'time' | 'node'
/** Kinds an entry line may have; gap entries are always named, as what is missing. */
export type ContextKind = Exclude<EntryKind, 'gap'>

/** What the summary of the entries left out for the budget is made from. */
export interface OmissionInfo {
  /** How many entries were left out, when known exactly (always without topic, kind or subject filters); else null. */
  count: number | null
  /** Per node, the seq ranges left out: every entry in them that matches the selection was left out. */
  ranges: Array<{ node: NodeId; ranges: SeqRange[] }>
  /** True when `entries` holds every entry left out; false when it holds the newest `summaryScan` of them. */
  complete: boolean
}

export interface ContextOptions {
  /** Only these topics (any of them). */
  topics?: readonly string[]
  /** Only these kinds: `transition`, `event`. */
  kinds?: readonly ContextKind[]
  /** Only entries written by these nodes. */
  nodes?: readonly NodeId[]
  /** Only the transitions of this subject: one work item's history. */
  subject?: string
  /** Only entries appended at or after this time (ms since the epoch, the entry's `at`). */
  since?: number
  /** Only entries appended before this time (ms, exclusive). */
  until?: number
  /** Tokens the whole text may take, counted by the tokenizer; default 8,000. */
  budget?: number
  /** A gpt-tokenizer encoding by name (see ENCODINGS); default o200k_base. */
  encoding?: string
  /** Counts tokens for another model instead of `encoding` (the manifest's tokenizer is then `custom`). */
  countTokens?: CountTokens
  order?: ContextOrder
  format?: ContextFormat
  /** An entry line longer than this is shortened, with a visible marker; default 1,000 tokens. */
  maxEntryTokens?: number
  /** Pinned text above everything else, counted against the budget. */
  preamble?: string
  /** Renders an entry line (text and markdown formats) instead of the built-in line. */
  render?: (entry: Entry) => string
  /** Says what the entries left out for the budget were, instead of the built-in counts; counted against the budget. */
  summarize?: (entries: readonly Entry[], info: OmissionInfo) => string | Promise<string>
  /** How many of the entries left out are read for their summary at most; default 200 (each is read and decoded). */
  summaryScan?: number
  /** Gap entries under these topics name losses of several topics, so they are named for every topic selection; default `ylog.gaps`. */
  gapTopics?: readonly string[]
}

/** A gap entry: events its writer dropped before they reached the log. */
export interface DroppedRange {
  id: string
  seq: number
  hash: string
  at: number
  stream: string
  from: number
  to: number
}

export interface NodeManifest {
  node: NodeId
  /** Seqs whose entries are in the text. */
  included: SeqRange[]
  /** Seqs left out for the budget (the entries in them that match the selection). */
  omitted: SeqRange[]
  /** Gap entries of this node in the selection. */
  dropped: DroppedRange[]
  /** Seqs known to exist elsewhere that have not reached this node. */
  missing: SeqRange[]
  /** The first seq for which this node signed two different entries: its history from there cannot be trusted. */
  forkedFrom?: number
}

export interface ContextManifest {
  /** The encoding's name, or `custom` for a caller's countTokens. */
  tokenizer: string
  budget: number
  tokens: number
  format: ContextFormat
  order: ContextOrder
  selection: Pick<ContextOptions, 'topics' | 'kinds' | 'nodes' | 'subject' | 'since' | 'until'>
  counts: { included: number; omitted: number | null; dropped: number; missing: number; forked: number }
  nodes: NodeManifest[]
  /** The entries in the text, in the order they appear: ids and hashes to verify against the log. */
  entries: Array<{ id: string; hash: string }>
}

export interface AssembledContext {
  text: string
  tokens: number
  manifest: ContextManifest
}
