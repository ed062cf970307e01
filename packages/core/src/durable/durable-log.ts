import { CommittedLog } from './committed-log.js'
import { indexRowAt, indexRowOfEntry } from './index-rows.js'
import type { Entry, EntryInput } from '../entry/entry.js'
import { YlogError } from '../errors.js'
import { replayStored, RESTORE_ADVICE } from './replay.js'
import { mergeSmallRecords } from './merge-records.js'
import { clocksOf, TailCompactor } from './tail-compactor.js'
import { WorkerSigner } from './signer.js'
import { LogDoc, type ApplyResult, type SignedEntry } from '../doc/log-doc.js'
import { inBatch, type PreparedEntry } from './prepare-entry.js'
import type { UpdateRecord } from './update-store.js'
import type { AppendOptions, CommitListener, CompactionListener, DurableLogOptions } from './durable-log-options.js'

/** Compact when this many updates follow the snapshot, unless DurableLogOptions.compactAfterUpdates says otherwise. */
export const DEFAULT_COMPACT_AFTER_UPDATES = 20_000

/** A group commit starts at once when this many updates are waiting. */
const GROUP_COMMIT_RECORDS = 256

export type { DurableLogOptions, CommitListener, AppendOptions, CommitInfo, CompactionInfo, CompactionListener } from './durable-log-options.js'

interface SignedItem {
  signed: SignedEntry[]
  options: AppendOptions
  resolve: (entries: Entry[]) => void
  reject: (err: Error) => void
}

/**
 * A LogDoc whose every update is committed to an UpdateStore before it is
 * acknowledged. Appends that arrive while a commit is in flight are grouped
 * into the next one (group commit), so many concurrent writers share one
 * transaction and one fsync.
 *
 * If a commit fails the log stops accepting writes: the document would
 * otherwise hold entries the store does not, and a restart could reuse
 * their seqs. Restarting replays exactly what was committed.
 */
export class DurableLog extends CommittedLog {
  /** Seconds the last open spent replaying and verifying. */
  replaySeconds = 0
  readonly #tail: TailCompactor
  #pending: UpdateRecord[] = []
  #waiters: Array<{ resolve: () => void; reject: (err: Error) => void }> = []
  #committing = false
  #turnScheduled = false
  #failure: Error | undefined
  #closed = false
  #lastId = 0
  #signer: WorkerSigner | undefined
  // Signed entries waiting for this turn's single Yjs transaction (#applyQueued).
  #signedQueue: SignedItem[] = []
  readonly #commitListeners = new Set<CommitListener>()
  readonly #compactionListeners = new Set<CompactionListener>()

  private constructor(log: LogDoc, options: DurableLogOptions, tail: TailCompactor) {
    super(log, options.store)
    this.#tail = tail
  }

  /** Replays the store (snapshot, then tail), verifies every chain, and starts recording. */
  static async open(options: DurableLogOptions): Promise<DurableLog> {
    const started = performance.now()
    const log = new LogDoc(options)
    const state = await options.store.load()
    const snapshotHeads = replayStored(log, state, options.onReplayProgress)
    const thresholds = { afterUpdates: options.compactAfterUpdates ?? DEFAULT_COMPACT_AFTER_UPDATES, afterBytes: options.compactAfterBytes ?? 16 * 1024 * 1024 }
    const durable = new DurableLog(log, options, new TailCompactor(options.store, log.doc, thresholds, { snapshotHeads, state }))
    const check = log.verifyChains(options.verify === 'full' ? undefined : snapshotHeads)
    if (!check.ok) {
      throw new YlogError('STORE_CORRUPT', `stored log does not verify: node ${check.node} seq ${check.seq}: ${check.detail}; ${RESTORE_ADVICE}`)
    }
    durable.#lastId = state.lastId
    for (const [node, head] of log.heads()) durable.committed.set(node, head.length)
    durable.#record()
    if (options.signing === 'thread' && options.identity !== undefined) {
      const head = log.heads().get(options.identity.id)
      durable.#signer = new WorkerSigner(options.identity, { next: head?.length ?? 0, prev: head === undefined ? new Uint8Array(32) : new Uint8Array(Buffer.from(head.hash, 'hex')), at: head?.at ?? 0 })
    }
    durable.replaySeconds = (performance.now() - started) / 1000
    return durable
  }

  /** Appends one entry; resolves once it is committed. */
  append(input: EntryInput, options: AppendOptions = {}): Promise<Entry> {
    if (options.idempotency !== undefined) return this.appendBatch([input], options).then((entries) => entries[0] as Entry)
    this.#writable()
    if (this.#signer === undefined) {
      const entry = this.log.append(input)
      return this.#afterCommit().then(() => entry)
    }
    const { topic, body, at, time, tail } = this.log.prepare(input)
    return this.#signer.sign({ tail, at, time }).then((signed) => this.#applySigned([{ ...signed, topic, body }], options).then((entries) => entries[0] as Entry))
  }

  /**
   * Appends entries as one update in one commit: all of them are
   * acknowledged together, or (an invalid entry, a failed commit) none.
   */
  appendBatch(inputs: readonly EntryInput[], options: AppendOptions = {}): Promise<Entry[]> {
    this.#writable()
    if (inputs.length === 0) throw new YlogError('BAD_ARGUMENT', 'a batch needs at least one entry')
    if (this.#signer === undefined) {
      const entries = this.log.appendBatch(inputs)
      this.#attach(entries, options)
      return this.#afterCommit().then(() => entries)
    }
    const prepared = inputs.map((input, i) => inBatch(inputs.length, i, () => this.log.prepare(input)))
    return this.#signer
      .signGroup(prepared.map(({ tail, at, time }) => ({ tail, at, time })))
      .then((group) => this.#applySigned(group.map((signed, i) => ({ ...signed, topic: (prepared[i] as PreparedEntry).topic, body: (prepared[i] as PreparedEntry).body })), options))
  }

  /**
   * Queues entries the signing thread returned and applies everything queued
   * in this turn as one Yjs transaction: the signer answers up to 256
   * appends in one message, and one update for all of them costs Yjs and
   * the store a fraction of 256 updates. A request with an idempotency key
   * gets an update (and so a record) of its own, to carry its key.
   */
  #applySigned(signed: SignedEntry[], options: AppendOptions): Promise<Entry[]> {
    return new Promise((resolve, reject) => {
      if (this.#signedQueue.length === 0) queueMicrotask(() => this.#applyQueued())
      this.#signedQueue.push({ signed, options, resolve, reject })
    })
  }

  #applyQueued(): void {
    const queue = this.#signedQueue
    this.#signedQueue = []
    let run: SignedItem[] = []
    for (const item of queue) {
      if (item.options.idempotency === undefined) {
        run.push(item)
        continue
      }
      this.#applyRun(run)
      this.#applyRun([item])
      run = []
    }
    this.#applyRun(run)
  }

  #applyRun(items: SignedItem[]): void {
    if (items.length === 0) return
    let entries: Entry[]
    try {
      this.#writable()
    } catch (err) {
      for (const item of items) item.reject(err as Error)
      return
    }
    try {
      entries = this.log.appendSignedBatch(items.flatMap((item) => item.signed))
    } catch (err) {
      // The signer and the log disagree about the chain: nothing more can be appended safely.
      this.#failure ??= err as Error
      for (const item of items) item.reject(err as Error)
      return
    }
    const committed = this.#afterCommit()
    let offset = 0
    for (const item of items) {
      const mine = entries.slice(offset, (offset += item.signed.length))
      this.#attach(mine, item.options)
      committed.then(() => item.resolve(mine), item.reject)
    }
  }

  // The update these entries made is the last pending record: appendSignedBatch pushed it synchronously.
  #attach(entries: Entry[], options: AppendOptions): void {
    const first = entries[0]
    const record = this.#pending[this.#pending.length - 1]
    if (options.idempotency === undefined || first === undefined || record === undefined) return
    record.idempotency = { key: options.idempotency.key, requestHash: options.idempotency.requestHash, node: first.node, seq: first.seq, count: entries.length }
  }

  /** Offers a remote update to the guard; accepted ones resolve after they are committed. */
  async applyRemote(update: Uint8Array): Promise<ApplyResult> {
    this.#writable()
    const result = this.log.applyRemote(update)
    if (result.status === 'accepted' && this.#pending.length > 0) await this.#afterCommit()
    return result
  }

  /** Updates applied to the document but not yet committed. */
  get pending(): number {
    return this.#pending.length + (this.#committing ? 1 : 0)
  }

  /** Resolves when everything written so far is committed. */
  async flush(): Promise<void> {
    if (this.#pending.length > 0 || this.#committing) await this.#afterCommit()
  }

  /** Commits what is pending, then adds what the tail holds to the snapshot and drops the tail's updates. */
  async compact(): Promise<void> {
    this.#writable()
    await this.flush()
    await this.#compact()
  }

  /**
   * The deep check: the store's own (SQLite integrity_check, snapshot
   * checksum) plus every node's whole chain from seq 0. Slower than the
   * checks at open; run it from an operator's command, not on a hot path.
   */
  async checkIntegrity(): Promise<{ ok: boolean; problems: string[] }> {
    await this.flush()
    const store = (await this.store.checkIntegrity?.()) ?? { ok: true, problems: [] }
    const chains = this.log.verifyChains()
    const problems = [...store.problems]
    if (!chains.ok) problems.push(`node ${chains.node} seq ${chains.seq}: ${chains.detail}`)
    return { ok: problems.length === 0, problems }
  }

  /** Listens for commits: what was written, the entries it added, and how long it took. */
  onCommit(listener: CommitListener): () => void {
    this.#commitListeners.add(listener)
    return () => this.#commitListeners.delete(listener)
  }

  /** Listens for compactions (automatic or `compact()`): commits wait while one runs. */
  onCompaction(listener: CompactionListener): () => void {
    this.#compactionListeners.add(listener)
    return () => this.#compactionListeners.delete(listener)
  }

  async close(): Promise<void> {
    if (this.#closed) return
    try {
      await this.flush()
    } finally {
      this.#closed = true
      await this.#signer?.close()
      await this.store.close()
    }
  }

  #record(): void {
    this.log.onUpdate((update) => {
      this.#pending.push({ update, entries: [] })
      // Not #schedule(): a commit started here would take this record before
      // onEntries below has attached its index rows.
      this.#scheduleTurn()
    })
    this.log.onEntries(({ node, fromSeq, count, entry }) => {
      const record = this.#pending[this.#pending.length - 1]
      if (record === undefined) return
      if (entry !== undefined) record.entries.push(indexRowOfEntry(entry))
      else for (let seq = fromSeq; seq < fromSeq + count; seq++) record.entries.push(indexRowAt(this.log, node, seq))
    })
  }

  #afterCommit(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#waiters.push({ resolve, reject })
      this.#schedule()
    })
  }

  /**
   * Starts a commit now if none is in flight and a group is full, else at
   * the end of this turn of the event loop. Committing a full group at once
   * matters when the store works on another thread: its fsync then overlaps
   * with signing the next group, instead of alternating with it.
   */
  #schedule(): void {
    if (this.#committing) return
    if (this.#pending.length >= GROUP_COMMIT_RECORDS) {
      void this.#commit()
      return
    }
    this.#scheduleTurn()
  }

  #scheduleTurn(): void {
    if (this.#turnScheduled) return
    this.#turnScheduled = true
    setImmediate(() => {
      this.#turnScheduled = false
      if (!this.#committing && (this.#pending.length > 0 || this.#waiters.length > 0)) void this.#commit()
    })
  }

  async #commit(): Promise<void> {
    this.#committing = true
    const batch = mergeSmallRecords(this.#pending)
    const waiters = this.#waiters
    this.#pending = []
    this.#waiters = []
    const started = performance.now()
    try {
      if (batch.length > 0) {
        this.#lastId = await this.store.append(batch)
      }
      const entries = batch.flatMap((r) => r.entries)
      for (const row of entries) if (row.seq >= (this.committed.get(row.node) ?? 0)) this.committed.set(row.node, row.seq + 1)
      const info = { records: batch.length, entries: entries.length, seconds: (performance.now() - started) / 1000 }
      const updates = batch.map((r) => r.update)
      this.#tail.committed(updates)
      if (this.#commitListeners.size > 0) {
        for (const listener of this.#commitListeners) notify('commit', () => listener(info, updates, entries))
      }
      for (const w of waiters) w.resolve()
      if (this.#tail.due) await this.#compact()
    } catch (err) {
      this.#failure ??= new YlogError('STORE_FAILED', `commit failed, the log stopped accepting writes (restart the node to replay what was committed): ${(err as Error).message}`, { cause: err })
      for (const w of [...waiters, ...this.#waiters]) w.reject(this.#failure)
      this.#waiters = []
      this.#pending = []
      return
    } finally {
      this.#committing = false
    }
    if (this.#pending.length > 0 || this.#waiters.length > 0) this.#schedule()
  }

  async #compact(): Promise<void> {
    const info = await this.#tail.compact(() => ({ lastId: this.#lastId, clocks: clocksOf(this.committed) }))
    for (const listener of this.#compactionListeners) notify('compaction', () => listener(info))
  }

  #writable(): void {
    if (this.#failure !== undefined) throw this.#failure
    if (this.#closed) throw new YlogError('CLOSED', 'the log is closed')
  }
}

// A listener's bug must not look like a failed commit (which stops the log): it is reported, and the others still run.
function notify(what: string, call: () => void): void {
  try {
    call()
  } catch (err) {
    process.emitWarning(`a DurableLog ${what} listener threw: ${(err as Error).stack ?? String(err)}`, 'YlogListenerWarning')
  }
}
