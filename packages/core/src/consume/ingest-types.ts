import type { PreparedEntry } from '../durable/prepare-entry.js'
// The types an IngestQueue speaks in (ingest-queue.ts), and the per-gap topic count.
import type { Entry, EntryInput } from '../entry/entry.js'

/** Distinct topics a gap remembers; more would let one overload grow memory with every new topic name. */
const MAX_GAP_TOPICS = 32

export type IngestPolicy = 'block' | 'drop'

export interface IngestQueueOptions {
  /** Most events accepted but not yet committed (queued or being written). */
  capacity: number
  /** When full: 'block' makes `push` wait for room; 'drop' drops the event and records it in a gap entry. */
  policy: IngestPolicy
  /**
   * Names this queue in gap entries (default 'ingest'). A random run id is
   * appended (`ingest:3f9c0a1be2d4`), because ingest numbers restart at 0
   * with every queue: the run id keeps the ranges of two runs apart.
   */
  stream?: string
  /**
   * Topic of a gap entry whose dropped events had different topics (default 'ylog.gaps'); if they shared one, the gap entry has
   * that topic.
   */
  gapTopic?: string
  /** Called once per gap, after its gap entry is committed, or with `entry: undefined` if the log could not take it. */
  onGap?: (gap: IngestGap) => void
  /** Clock for `firstAt`/`lastAt` (default Date.now). */
  now?: () => number
}

/** A contiguous range of ingest numbers lost before they reached the log. */
export interface IngestGap {
  /** The `stream` of the gap entry: this queue's name and run id. */
  stream: string
  /** First and last ingest number lost (inclusive); every number between was lost too. */
  from: number
  to: number
  count: number
  /** When the first and the last of them were lost (ms since the epoch). */
  firstAt: number
  lastAt: number
  /** Lost events per topic, for up to 32 topics; `otherTopics` counts the rest. */
  topics: Readonly<Record<string, number>>
  otherTopics: number
  /** The committed gap entry; undefined when the log failed or closed first (`error` says why). */
  entry: Entry | undefined
  error?: Error
}

/** What became of a pushed event. `ingest` is its number in this queue (0, 1, 2, … in push order). */
export type IngestResult = { status: 'appended'; ingest: number; entry: Entry } | { status: 'dropped'; ingest: number }

export interface IngestStats {
  /** Events pushed (numbered). */
  pushed: number
  appended: number
  /** Events lost: dropped when full, or refused by the log (too large). */
  lost: number
  /** Gap entries committed. */
  gaps: number
}

export interface EventItem {
  gap: false
  ingest: number
  input: EntryInput
  /** The input as `LogDoc.prepare` checked and encoded it at push; `at` is stamped again at write time unless the input gave one. */
  prepared: PreparedEntry
  resolve: (result: IngestResult) => void
  reject: (err: Error) => void
}

export interface GapItem {
  gap: true
  from: number
  to: number
  firstAt: number
  lastAt: number
  topics: Map<string, number>
  otherTopics: number
}

export type Item = EventItem | GapItem

/** Counts a dropped event's topic in its gap, for up to MAX_GAP_TOPICS topics. */
export function countTopic(gap: GapItem, topic: string): void {
  const seen = gap.topics.get(topic)
  if (seen !== undefined) gap.topics.set(topic, seen + 1)
  else if (gap.topics.size < MAX_GAP_TOPICS) gap.topics.set(topic, 1)
  else gap.otherTopics++
}
