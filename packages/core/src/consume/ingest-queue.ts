import { randomBytes } from 'node:crypto'
import { appendPrepared, type DurableLog } from '../durable/durable-log.js'
import { rejecting } from '../durable/rejecting.js'
import { validateTopic, type Entry, type EntryInput } from '../entry/entry.js'
import { YlogError } from '../errors.js'
import { Fifo } from './fifo.js'
import { logDocOf } from '../durable/committed-log.js'
import { isPassable } from '../durable/store-health.js'
import {
  countTopic,
  type EventItem,
  type GapItem,
  type IngestGap,
  type IngestPolicy,
  type IngestQueueOptions,
  type IngestResult,
  type IngestStats,
  type Item,
} from './ingest-types.js'

export type { IngestGap, IngestPolicy, IngestQueueOptions, IngestResult, IngestStats } from './ingest-types.js'

/**
 * Most queue items the writer hands to the log in one turn of the event loop, so a long queue does not block the process while it
 * signs.
 */
const WRITE_BATCH = 256

/**
 * The bounded path from producers to the log writer. Every pushed event gets
 * an ingest number and ends up exactly once in the log: as its own entry, or
 * inside the range of a `gap` entry (kind 'gap', data `{ stream, from, to }`),
 * signed and replicated like any other entry, so the loss is part of history.
 *
 * Entries, gap entries included, reach the log in ingest order: a gap entry
 * stands where the events it names would have been. Drops that follow each
 * other merge into one gap, which is written as soon as the queue has room
 * again (or an event is accepted after it), so an overload of any length
 * costs one gap entry per episode, not one per event.
 *
 * Ingest numbers are per queue and not persisted: they start at 0 in each
 * process. The gap's `stream` carries a random run id so ranges of different
 * runs cannot be confused; a reader accounts for one run by matching it.
 */
export class IngestQueue {
  /** This run's stream name, as written in its gap entries. */
  readonly stream: string
  readonly #durable: DurableLog
  readonly #capacity: number
  readonly #policy: IngestPolicy
  readonly #gapTopic: string
  readonly #onGap: ((gap: IngestGap) => void) | undefined
  readonly #now: () => number
  #next = 0
  /** Events accepted and not yet settled by the log: the number `capacity` bounds. */
  #size = 0
  #writing = 0
  /** Events and gaps in ingest order; a deque (head index), since it may hold `capacity` items and shift() would copy them. */
  readonly #queue = new Fifo<Item>()
  /** Gaps of one for events the log refused (too large): written before the queue goes on. */
  #refused: GapItem[] = []
  /** The gap at the tail of the queue that the next drop extends; closed by an accepted event, or when the writer takes it. */
  #openGap: GapItem | undefined
  #blocked: EventItem[] = []
  #idle: Array<() => void> = []
  #writeScheduled = false
  #closed = false
  #failure: Error | undefined
  readonly #stats: IngestStats = { pushed: 0, appended: 0, lost: 0, gaps: 0 }

  constructor(durable: DurableLog, options: IngestQueueOptions) {
    if (!Number.isSafeInteger(options.capacity) || options.capacity < 1)
      throw new YlogError('BAD_ARGUMENT', `capacity must be a positive integer, got ${options.capacity}`)
    if (logDocOf(durable).identity === undefined)
      throw new YlogError(
        'BAD_ARGUMENT',
        'this log has no identity, so the queue could not append to it; open the DurableLog with { identity }',
      )
    if (options.policy !== 'block' && options.policy !== 'drop')
      throw new YlogError('BAD_ARGUMENT', `policy must be 'block' or 'drop', got ${JSON.stringify(options.policy)}`)
    const gapTopic = options.gapTopic ?? 'ylog.gaps'
    validateTopic(gapTopic)
    const name = options.stream ?? 'ingest'
    if (name.length === 0 || name.length > 1000)
      throw new YlogError('BAD_ARGUMENT', `stream must be 1 to 1000 characters, got ${name.length}`)
    this.stream = `${name}:${randomBytes(6).toString('hex')}`
    this.#durable = durable
    this.#capacity = options.capacity
    this.#policy = options.policy
    this.#gapTopic = gapTopic
    this.#onGap = options.onGap
    this.#now = options.now ?? Date.now
  }

  /**
   * Numbers an event and queues it. Resolves with 'appended' once its entry
   * is committed, or at once with 'dropped' (policy 'drop', queue full). With
   * policy 'block' a full queue makes it wait for room, in push order.
   *
   * Rejects at once, without numbering it, for input the log would refuse
   * (topic, kind, data, times, size) and when the queue is closed (it never
   * throws, so `push(x).catch(…)` sees every refusal). Rejects later if
   * the log stops accepting writes, or (should it ever refuse an entry that
   * passed these checks) refuses the signed entry: the number then goes to a
   * gap entry, since the event was accepted and then lost.
   */
  push(input: EntryInput): Promise<IngestResult> {
    return rejecting(() => this.#push(input))
  }

  #push(input: EntryInput): Promise<IngestResult> {
    if (this.#failure !== undefined) throw this.#failure
    if (this.#closed) throw new YlogError('CLOSED', 'the ingest queue is closed')
    // Everything the log could refuse (topic, kind, data, times, size) is refused here, before the event is numbered: a refused
    // push leaves no trace.
    const prepared = logDocOf(this.#durable).prepare(input)
    const { body, at, time } = prepared
    const ingest = this.#next++
    this.#stats.pushed++
    const normalized = {
      ...body,
      topic: input.topic,
      ...(input.at === undefined ? {} : { at }),
      ...(time === undefined ? {} : { time }),
    } as EntryInput
    if (this.#size < this.#capacity && this.#blocked.length === 0) {
      return new Promise((resolve, reject) => this.#accept({ gap: false, ingest, input: normalized, prepared, resolve, reject }))
    }
    if (this.#policy === 'drop') {
      this.#drop(ingest, input.topic)
      return Promise.resolve({ status: 'dropped', ingest })
    }
    return new Promise((resolve, reject) => this.#blocked.push({ gap: false, ingest, input: normalized, prepared, resolve, reject }))
  }

  /** Events accepted and not yet committed (at most `capacity`). */
  get size(): number {
    return this.#size
  }

  /** Pushes waiting for room (policy 'block'). */
  get waiting(): number {
    return this.#blocked.length
  }

  get stats(): Readonly<IngestStats> {
    return { ...this.#stats }
  }

  /** Resolves when everything pushed so far is settled: committed, or recorded in a committed gap entry. */
  flush(): Promise<void> {
    if (this.#isIdle()) return Promise.resolve()
    return new Promise((resolve) => this.#idle.push(resolve))
  }

  /** Refuses further pushes, then writes what is queued (blocked pushes and the last gap included). */
  async close(): Promise<void> {
    this.#closed = true
    await this.flush()
  }

  #accept(item: EventItem): void {
    this.#size++
    // An accepted event ends the run of drops before it; that gap entry goes in its place, ahead of this event.
    this.#openGap = undefined
    this.#queue.push(item)
    this.#scheduleWrite()
  }

  #drop(ingest: number, topic: string): void {
    this.#stats.lost++
    const at = this.#now()
    const open = this.#openGap
    if (open !== undefined) {
      open.to = ingest
      open.lastAt = at
      countTopic(open, topic)
      return
    }
    // No capacity is charged for a gap: there is at most one per accepted event, plus the open one.
    const gap: GapItem = { gap: true, from: ingest, to: ingest, firstAt: at, lastAt: at, topics: new Map(), otherTopics: 0 }
    countTopic(gap, topic)
    this.#queue.push(gap)
    this.#openGap = gap
    this.#scheduleWrite()
  }

  #scheduleWrite(): void {
    if (this.#writeScheduled) return
    this.#writeScheduled = true
    // In a later turn, so producers pushing in a burst are queued (or dropped) cheaply and the writer hands the log a group.
    setImmediate(() => {
      this.#writeScheduled = false
      this.#write()
    })
  }

  #write(): void {
    let handed = 0
    while (handed < WRITE_BATCH && this.#failure === undefined) {
      const refused = this.#refused.shift()
      if (refused !== undefined) {
        this.#writeGap(refused)
        handed++
        continue
      }
      const item = this.#queue.peek()
      if (item === undefined) break
      // While still full, later drops would only start a second gap next to this one: wait for room and write one.
      if (item === this.#openGap && this.#size >= this.#capacity) break
      this.#queue.shift()
      if (item === this.#openGap) this.#openGap = undefined
      if (item.gap) this.#writeGap(item)
      else this.#writeEvent(item)
      handed++
    }
    if (handed === WRITE_BATCH && this.#queued() > 0) this.#scheduleWrite()
    this.#checkIdle()
  }

  #queued(): number {
    return this.#queue.length + this.#refused.length
  }

  #writeEvent(item: EventItem): void {
    this.#writing++
    // Checked and encoded at push: only `at` is stamped now, when the entry is written, unless the event gave one.
    const prepared = item.input.at === undefined ? { ...item.prepared, at: logDocOf(this.#durable).now() } : item.prepared
    appendPrepared(this.#durable, prepared).then(
      (entry) => {
        this.#writing--
        this.#size--
        this.#stats.appended++
        item.resolve({ status: 'appended', ingest: item.ingest, entry })
        this.#settled()
      },
      (err: Error) => {
        this.#writing--
        this.#size--
        if (!this.#fatal(err)) {
          // The log refused this one entry (too large) and goes on: its number must still be accounted for, so it becomes a gap of one.
          this.#stats.lost++
          const at = this.#now()
          const gap: GapItem = { gap: true, from: item.ingest, to: item.ingest, firstAt: at, lastAt: at, topics: new Map(), otherTopics: 0 }
          countTopic(gap, item.input.topic)
          this.#refused.push(gap)
        }
        item.reject(err)
        this.#settled()
      },
    )
  }

  #writeGap(item: GapItem): void {
    this.#writing++
    const topics = [...item.topics.keys()]
    const topic = topics.length === 1 && item.otherTopics === 0 ? (topics[0] as string) : this.#gapTopic
    this.#durable.append({ topic, kind: 'gap', data: { stream: this.stream, from: item.from, to: item.to } }).then(
      (entry) => {
        this.#writing--
        this.#stats.gaps++
        this.#report(item, entry)
        this.#settled()
      },
      (err: Error) => {
        this.#writing--
        this.#fatal(err)
        this.#report(item, undefined, err)
        this.#settled()
      },
    )
  }

  #report(item: GapItem, entry: Entry | undefined, error?: Error): void {
    const gap: IngestGap = {
      stream: this.stream,
      from: item.from,
      to: item.to,
      count: item.to - item.from + 1,
      firstAt: item.firstAt,
      lastAt: item.lastAt,
      topics: Object.fromEntries(item.topics),
      otherTopics: item.otherTopics,
      entry,
      ...(error === undefined ? {} : { error }),
    }
    try {
      this.#onGap?.(gap)
    } catch (err) {
      // An observer's bug must not stop the writer; it is reported, not swallowed.
      process.emitWarning(err instanceof Error ? err : new Error(String(err)), { code: 'YLOG_ON_GAP' })
    }
  }

  /**
   * Whether `err` ends this queue. A log that stopped accepting writes takes
   * nothing more: queued and blocked events are rejected, and queued gaps are
   * reported without an entry, so no loss goes unreported.
   */
  #fatal(err: Error): boolean {
    if (this.#failure === undefined && err instanceof YlogError && err.code === 'ENTRY_TOO_LARGE') return false
    if (this.#failure !== undefined) return true
    this.#failure = err
    const queued = [...this.#refused, ...this.#queue.drain()]
    const blocked = this.#blocked
    this.#refused = []
    this.#blocked = []
    this.#openGap = undefined
    for (const item of queued) {
      if (item === undefined) continue
      if (item.gap) this.#report(item, undefined, err)
      else {
        this.#size--
        item.reject(err)
      }
    }
    for (const item of blocked) item.reject(err)
    // A full disk or an I/O error can pass (the log retries and recovers by itself): what was queued is refused and reported,
    // but the queue takes new events, which the log refuses in turn until it has recovered.
    if (isPassable(err)) this.#failure = undefined
    return true
  }

  // Room appeared or the writer finished something: blocked pushes move in, and the writer goes on.
  #settled(): void {
    while (this.#failure === undefined && this.#size < this.#capacity) {
      const next = this.#blocked.shift()
      if (next === undefined) break
      this.#accept(next)
    }
    if (this.#queued() > 0) this.#scheduleWrite()
    this.#checkIdle()
  }

  #isIdle(): boolean {
    return this.#queued() === 0 && this.#blocked.length === 0 && this.#writing === 0
  }

  #checkIdle(): void {
    if (!this.#isIdle() || this.#idle.length === 0) return
    const idle = this.#idle
    this.#idle = []
    for (const resolve of idle) resolve()
  }
}
