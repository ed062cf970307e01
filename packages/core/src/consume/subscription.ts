import type { Cursor } from '../entry/cursor.js'
import type { DurableLog } from '../durable/durable-log.js'
import { decodeEntry, peekTopicKind, type Entry, type EntryKind } from '../entry/entry.js'
import { YlogError } from '../errors.js'
import type { NodeId } from '../entry/identity.js'
import type { LogDoc } from '../doc/log-doc.js'
import { decodedEntry } from '../durable/decoded-entries.js'
import type { IndexRow } from '../durable/update-store.js'
import { Fifo } from './fifo.js'
import { Serial } from './serial.js'
import { logDocOf } from '../durable/committed-log.js'

/** Positions a history page scans before it hands over (and before the next page yields to the event loop). */
const HISTORY_PAGE = 1000
/** ...or bytes of matching entries it holds: entries may be up to 64 KiB, and a page of 1000 such would be 64 MB per subscriber. */
const HISTORY_PAGE_BYTES = 1 << 20
const DEFAULT_BUFFER = 1024

export interface SubscribeOptions {
  /**
   * Where to start: a cursor (entries at or after its per-node positions;
   * `START` or omitted for the whole log), or 'now' for only the entries
   * appended to the log after `subscribe` returns.
   */
  after?: Cursor | 'now'
  /** Only entries of this topic. */
  topic?: string
  /** Only entries of these kinds. Leave 'gap' in if the reader must learn of events lost before the log. */
  kinds?: readonly EntryKind[]
  /**
   * Most live entries held for this subscriber while it does not pull
   * (default 1024). Beyond that its new entries are dropped and reported by
   * gap markers.
   */
  bufferSize?: number
  /** Aborting closes the subscription: the iteration ends as if by `return()`. */
  signal?: AbortSignal
}

/** One committed entry, and the cursor just after it: subscribe `{ after: cursor }` to resume behind it. */
export interface SubscriptionEntry {
  kind: 'entry'
  entry: Entry
  cursor: Cursor
}

/**
 * Entries of `node` with from <= seq <= to that were dropped for this
 * subscriber because it did not pull. Every entry in the range that matches
 * the subscription's filter was dropped (non-matching ones may lie between):
 * `log.range(node, from, to + 1)` with the same filter reads exactly them.
 * `cursor` is the position after the range; resuming from it skips the range.
 */
export interface SubscriptionGap {
  kind: 'gap'
  node: NodeId
  from: number
  to: number
  cursor: Cursor
}

export type SubscriptionItem = SubscriptionEntry | SubscriptionGap

/**
 * An async iterator over committed entries: `for await` over it, and
 * `break` (or `return()`, or the abort signal) to close it. Only one reader
 * should pull; concurrent `next()` calls are answered in order.
 */
export interface Subscription extends AsyncIterator<SubscriptionItem, undefined, undefined> {
  next(): Promise<IteratorResult<SubscriptionItem, undefined>>
  /** Closes the subscription: unregisters it from the log and releases what it buffered. */
  return(): Promise<IteratorReturnResult<undefined>>
  [Symbol.asyncIterator](): Subscription
}

/**
 * Subscribes to a log's committed entries: history from `after` first, then
 * live entries from every node as they commit, each exactly once and in seq
 * order per node.
 *
 * A subscriber is in one of two modes. While behind (history), it reads
 * entries from the log by position, a page at a time, up to what is
 * committed; commits meanwhile only move that target, so a slow reader in
 * history never drops anything and holds no more than one page. Once it has
 * read everything committed it goes live: commits put entry positions into
 * its buffer (at most `bufferSize`); when the buffer is full, that
 * subscriber's new entries are dropped, and a gap marker per node and per
 * contiguous dropped range takes their place in the order.
 */
export function subscribe(durable: DurableLog, options: SubscribeOptions = {}): Subscription {
  return new LogSubscription(durable, options)
}

interface EntrySlot {
  gap: false
  node: NodeId
  seq: number
}

interface GapSlot {
  gap: true
  node: NodeId
  from: number
  to: number
}

type Slot = EntrySlot | GapSlot

class LogSubscription implements Subscription {
  readonly #durable: DurableLog
  readonly #topic: string | undefined
  readonly #kinds: ReadonlySet<EntryKind> | undefined
  readonly #bufferSize: number
  readonly #signal: AbortSignal | undefined
  readonly #onAbort = (): void => this.#close()
  #mode: 'starting' | 'history' | 'live' | 'closed' = 'starting'
  #failure: Error | undefined
  #unlisten: (() => void) | undefined
  /** Per node, the next seq this subscription has not yet accounted for (delivered, queued, filtered out or dropped). */
  readonly #scan = new Map<NodeId, number>()
  /** Per node, the positions delivered to the reader: the cursor it can resume from. */
  readonly #emitted = new Map<NodeId, number>()
  /** Starting and history modes: per node, how many entries are committed (what history may read up to). */
  readonly #committed = new Map<NodeId, number>()
  /** History mode: the targets of the current round, so one fast node cannot starve the others. */
  #round: Array<[NodeId, number]> | undefined
  #roundIndex = 0
  #page: Entry[] = []
  #pageIndex = 0
  #pagesRead = 0
  /** Live mode: positions and gap markers in delivery order; a deque (head index) so taking one is O(1). */
  readonly #queue = new Fifo<Slot>()
  #buffered = 0
  /** Per node, the gap marker still queued that the next drop of that node extends. */
  readonly #openGaps = new Map<NodeId, GapSlot>()
  /**
   * Nodes whose last item handed out was a gap marker. Their next entry is
   * buffered even over bufferSize (one per node): were it dropped, a second
   * marker would follow the first with nothing between, and the reader would
   * get one dropped range as two.
   */
  readonly #afterGap = new Set<NodeId>()
  #wake: (() => void) | undefined
  readonly #pulls = new Serial()
  readonly #ready: Promise<void>

  // Read each time: a DurableLog that recovered from a failed commit holds a new document (the committed entries are the same).
  get #log(): LogDoc {
    return logDocOf(this.#durable)
  }

  constructor(durable: DurableLog, options: SubscribeOptions) {
    const bufferSize = options.bufferSize ?? DEFAULT_BUFFER
    if (!Number.isSafeInteger(bufferSize) || bufferSize < 1)
      throw new YlogError('BAD_ARGUMENT', `bufferSize must be a positive integer, got ${bufferSize}`)
    if (options.kinds !== undefined && options.kinds.length === 0)
      throw new YlogError('BAD_ARGUMENT', 'kinds is empty, so nothing would match; omit it to take every kind')
    this.#durable = durable
    this.#topic = options.topic
    this.#kinds = options.kinds === undefined ? undefined : new Set(options.kinds)
    this.#bufferSize = bufferSize
    this.#signal = options.signal
    const after = options.after ?? new Map<NodeId, number>()
    // 'now' is what the document holds at this call, uncommitted entries included: they were appended before the subscription.
    const start = after === 'now' ? new Map(this.#log.nodes().map((node) => [node, this.#log.length(node)])) : after
    for (const [node, next] of start) {
      if (!Number.isSafeInteger(next) || next < 0)
        throw new YlogError(
          'BAD_CURSOR',
          `cursor position ${next} for node ${node} is not a non-negative integer; use a cursor the log returned`,
        )
      this.#scan.set(node, next)
      this.#emitted.set(node, next)
    }
    if (this.#signal?.aborted === true) {
      this.#close()
      this.#ready = Promise.resolve()
      return
    }
    this.#signal?.addEventListener('abort', this.#onAbort, { once: true })
    // Registered now, with the positions of this instant, every later commit reaches the listener. What the document holds now may
    // still be pending; one flush commits all of it. (Waiting for an instant with nothing pending instead could wait forever under a
    // busy writer.)
    this.#unlisten = durable.onCommit((_info, _updates, rows) => this.#onCommit(rows))
    for (const node of this.#log.nodes()) this.#committed.set(node, this.#log.length(node))
    this.#ready = durable.flush().then(
      () => {
        if (this.#mode !== 'starting') return
        this.#mode = 'history'
        this.#goLiveIfCaughtUp()
      },
      (err: unknown) => {
        this.#failure ??= err instanceof Error ? err : new Error(String(err))
      },
    )
  }

  [Symbol.asyncIterator](): Subscription {
    return this
  }

  next(): Promise<IteratorResult<SubscriptionItem, undefined>> {
    // One pull at a time: the state machine below assumes a single reader.
    return this.#pulls.run(() => this.#pull())
  }

  // Not queued behind pulls: a pull waiting for live entries would hold return() forever.
  async return(): Promise<IteratorReturnResult<undefined>> {
    this.#close()
    return { done: true, value: undefined }
  }

  async #pull(): Promise<IteratorResult<SubscriptionItem, undefined>> {
    await this.#ready
    try {
      return await this.#step()
    } catch (err) {
      // Its positions can no longer be trusted; a reader that retries should resubscribe from its last cursor.
      this.#close()
      throw err
    }
  }

  async #step(): Promise<IteratorResult<SubscriptionItem, undefined>> {
    for (;;) {
      if (this.#failure !== undefined) throw this.#failure
      if (this.#mode === 'closed') return { done: true, value: undefined }
      if (this.#mode === 'history') {
        const entry = this.#page[this.#pageIndex]
        if (entry !== undefined) {
          this.#pageIndex++
          return { done: false, value: this.#entryItem(entry) }
        }
        this.#page = []
        this.#pageIndex = 0
        if (this.#goLiveIfCaughtUp()) continue
        // A page is synchronous work, and a reader looping over history resolves its pulls in microtasks: between pages, let the
        // rest of the process (commits, I/O) run.
        if (this.#pagesRead++ > 0) await new Promise<void>((resolve) => setImmediate(resolve))
        if (this.#mode === 'history') this.#readPage()
        continue
      }
      const slot = this.#take()
      if (slot !== undefined) return { done: false, value: this.#slotItem(slot) }
      await new Promise<void>((resolve) => {
        this.#wake = resolve
      })
      this.#wake = undefined
    }
  }

  /** History: scans up to HISTORY_PAGE committed positions, in rounds of (node, seq) order, keeping the matching entries. */
  #readPage(): void {
    let budget = HISTORY_PAGE
    let bytesLeft = HISTORY_PAGE_BYTES
    while (budget > 0 && bytesLeft > 0) {
      if (this.#round === undefined) {
        this.#round = [...this.#committed].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        this.#roundIndex = 0
      }
      const target = this.#round[this.#roundIndex]
      if (target === undefined) {
        this.#round = undefined
        return
      }
      const [node, end] = target
      const from = this.#scan.get(node) ?? 0
      let to = Math.min(end, from + budget)
      for (let seq = from; seq < to; seq++) {
        const bytes = this.#log.getBytes(node, seq)
        if (bytes === undefined) throw missing(node, seq)
        // Filtered readers skip by topic and kind read in place: decoding every entry of a long history to drop most of them is
        // the slow part.
        if (this.#filtered && !this.#matches(peekTopicKind(bytes) ?? decodeEntry(bytes))) continue
        const entry = decodedEntry(this.#log, node, seq, bytes)
        this.#page.push(entry)
        bytesLeft -= bytes.byteLength
        if (bytesLeft <= 0) to = seq + 1
      }
      if (to > from) this.#scan.set(node, to)
      budget -= Math.max(0, to - from)
      if (to >= end) this.#roundIndex++
    }
  }

  /** Switches to live once everything committed is read: from the next commit on, entries go to the buffer. */
  #goLiveIfCaughtUp(): boolean {
    if (this.#mode !== 'history' || this.#pageIndex < this.#page.length) return false
    for (const [node, length] of this.#committed) if ((this.#scan.get(node) ?? 0) < length) return false
    this.#mode = 'live'
    this.#round = undefined
    this.#committed.clear()
    this.#page = []
    this.#pageIndex = 0
    return true
  }

  #onCommit(rows: readonly IndexRow[]): void {
    // A throw here would fail the commit, and the log with it; a broken subscription fails alone.
    try {
      if (this.#mode === 'starting' || this.#mode === 'history') {
        for (const row of rows) if (row.seq + 1 > (this.#committed.get(row.node) ?? 0)) this.#committed.set(row.node, row.seq + 1)
        return
      }
      if (this.#mode !== 'live') return
      for (const row of rows) {
        // Commits add each node's entries contiguously, so a row is either the next position or one the start cursor already passed.
        if (row.seq < (this.#scan.get(row.node) ?? 0)) continue
        this.#scan.set(row.node, row.seq + 1)
        if (this.#matches(row)) this.#offer(row.node, row.seq)
      }
    } catch (err) {
      this.#failure ??= err instanceof Error ? err : new Error(String(err))
    }
    this.#wake?.()
  }

  #offer(node: NodeId, seq: number): void {
    const open = this.#openGaps.get(node)
    if (this.#buffered < this.#bufferSize || this.#afterGap.delete(node)) {
      // The open gap (if any) stays queued ahead of this entry: the marker precedes what follows it.
      if (open !== undefined) this.#openGaps.delete(node)
      this.#afterGap.delete(node)
      this.#queue.push({ gap: false, node, seq })
      this.#buffered++
      return
    }
    if (open !== undefined) {
      open.to = seq
      return
    }
    // Markers do not count against bufferSize; each one is closed by a buffered entry of its node or still open, so there are at
    // most (bufferSize + nodes) + nodes.
    const gap: GapSlot = { gap: true, node, from: seq, to: seq }
    this.#queue.push(gap)
    this.#openGaps.set(node, gap)
  }

  #take(): Slot | undefined {
    const slot = this.#queue.shift()
    if (slot === undefined) return undefined
    if (!slot.gap) {
      this.#buffered--
      return slot
    }
    if (this.#openGaps.get(slot.node) === slot) this.#openGaps.delete(slot.node)
    this.#afterGap.add(slot.node)
    return slot
  }

  #slotItem(slot: Slot): SubscriptionItem {
    if (slot.gap) {
      this.#emitted.set(slot.node, slot.to + 1)
      return { kind: 'gap', node: slot.node, from: slot.from, to: slot.to, cursor: new Map(this.#emitted) }
    }
    const bytes = this.#log.getBytes(slot.node, slot.seq)
    if (bytes === undefined) throw missing(slot.node, slot.seq)
    return this.#entryItem(decodedEntry(this.#log, slot.node, slot.seq, bytes))
  }

  #entryItem(entry: Entry): SubscriptionEntry {
    this.#emitted.set(entry.node, entry.seq + 1)
    return { kind: 'entry', entry, cursor: new Map(this.#emitted) }
  }

  get #filtered(): boolean {
    return this.#topic !== undefined || this.#kinds !== undefined
  }

  #matches(row: { topic: string; kind: string }): boolean {
    return (this.#topic === undefined || row.topic === this.#topic) && (this.#kinds === undefined || this.#kinds.has(row.kind as EntryKind))
  }

  #close(): void {
    if (this.#mode === 'closed') return
    this.#mode = 'closed'
    this.#unlisten?.()
    this.#unlisten = undefined
    this.#signal?.removeEventListener('abort', this.#onAbort)
    this.#queue.drain()
    this.#buffered = 0
    this.#openGaps.clear()
    this.#afterGap.clear()
    this.#page = []
    this.#pageIndex = 0
    this.#round = undefined
    this.#committed.clear()
    this.#wake?.()
  }
}

function missing(node: NodeId, seq: number): YlogError {
  return new YlogError('STORE_CORRUPT', `committed entry ${node}:${seq} is missing from the document; the log's heads and layout disagree`)
}
