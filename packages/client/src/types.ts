import type { Entry, EntryInput, EntryKind } from '@ylog/core'

export type { Entry, EntryInput, EntryKind }

/** What the node answers per appended entry. */
export interface Receipt {
  node: string
  seq: number
  /** `<node>:<seq>` */
  id: string
  hash: string
  /** The append time the entry was stored with (ms since the epoch). */
  at: number
  /** The event's own time, when the writer gave one. */
  time?: number
}

/** `GET /api/events`: a page and the cursor to continue after it. */
export interface Page {
  entries: Entry[]
  /** Pass as `after` to continue; with no new entries it comes back unchanged. */
  next: string
}

/** `GET /api/events?last=` or `before=`: a page read backwards from the end. */
export interface BackwardsPage {
  /** Oldest first. */
  entries: Entry[]
  /** Pass to `before` for the page before this one; null once the start is reached. */
  prev: string | null
  /** What was committed when the page was read: pass as `after` (or to `stream`) to go on live without a gap. */
  next: string
}

export interface ReadQuery {
  /** A cursor (`next` of an earlier page); default the start. */
  after?: string
  /** Only entries with `at` at or after this time (ms since the epoch). */
  since?: number
  topic?: string
  kind?: EntryKind
  /** 1-1000, default 100. */
  limit?: number
}

export interface Head {
  node: string
  length: number
  hash: string
  at: number
  forked: boolean
  gaps: number
}

export interface SeqRange {
  from: number
  to: number
}

export interface Heads {
  heads: Head[]
  holes: Record<string, SeqRange[]>
}

export interface NodeView {
  node: string
  length: number
  hash: string
  at: number | null
  forked: boolean
  holes: SeqRange[]
  gaps: number
}

export interface PeerView {
  url: string
  state: 'connecting' | 'open' | 'closed' | 'reading'
  node: string | null
  lastMessageAt: number | null
  lag: number
}

export interface ConnectionView {
  remoteAddress: string | null
  node: string | null
  lastMessageAt: number | null
  messagesIn: number
  messagesOut: number
}

export interface Nodes {
  self: string
  cluster: string
  membership: { mode: 'open' } | { mode: 'list'; members: string[] }
  nodes: NodeView[]
  peers: PeerView[]
  connections: ConnectionView[]
}

export interface Consumer {
  name: string
  /** Where the consumer resumes; null for one never acked (it starts at the beginning). */
  cursor: string | null
  ackedAt: number | null
  /** Committed entries after the cursor that its filter selects. */
  behind: number
  /** Its topic filter, or null for every topic. */
  topic: string | null
  /** Its kind filter, or null for every kind. */
  kind: EntryKind | null
}

/**
 * `ack` options. `topic`/`kind` set the consumer's filter from now on: a value filters, null clears it, absent leaves it as it
 * was.
 */
export interface AckOptions {
  /** Move the cursor back on purpose (an ack that goes backwards is otherwise refused with CURSOR_BACKWARDS). */
  rewind?: boolean
  topic?: string | null
  kind?: EntryKind | null
}

export interface TopicView {
  topic: string
  count: number
  latest: { id: string; node: string; seq: number; at: number }
}

/** `GET /api/context` options; lists go comma-separated. */
export interface ContextQuery {
  topics?: readonly string[]
  kinds?: ReadonlyArray<'transition' | 'event'>
  nodes?: readonly string[]
  /** Only this transition subject's history. */
  subject?: string
  /** Entries appended at or after (ms since the epoch). */
  since?: number
  /** Entries appended before (ms, exclusive). */
  until?: number
  /** Tokens the text may take. */
  budget?: number
  encoding?: string
  order?: 'time' | 'node'
  format?: string
  maxEntryTokens?: number
}

/** What `GET /api/context` answers: the text, its token count, and the manifest (see the node's OpenAPI for every field). */
export interface ContextAnswer {
  text: string
  tokens: number
  manifest: {
    tokenizer: string
    budget: number
    tokens: number
    format: string
    order: string
    counts: { included: number; omitted: number | null; dropped: number; missing: number; forked: number }
    nodes: Array<{
      node: string
      included: SeqRange[]
      omitted: SeqRange[]
      missing: SeqRange[]
      dropped: Array<{ id: string; from: number; to: number; stream: string }>
      forkedFrom?: number
    }>
    entries: Array<{ id: string; hash: string }>
    [field: string]: unknown
  }
}
