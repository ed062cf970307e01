import { CommittedLog } from './committed-log.js'
import { indexRowAt, indexRowOfEntry } from './index-rows.js'
import type { Entry, EntryInput } from '../entry/entry.js'
import { YlogError } from '../errors.js'
import { loadLog, type LoadedLog } from './replay.js'
import { mergeSmallRecords } from './merge-records.js'
import { clocksOf, TailCompactor } from './tail-compactor.js'
import { WorkerSigner } from './signer.js'
import { StoreRecovery, type HealthListener, type StoreHealth } from './store-health.js'
import { rejecting } from './rejecting.js'
import { chainHeadOf } from './chain-signer.js'
import { APPLY_CHECKED_RUN, type ApplyResult } from '../doc/log-doc.js'
import type { CheckedRun } from '../doc/checked-run.js'
import { inBatch, type PreparedEntry } from './prepare-entry.js'
import { SignedTurn, type SignedItem } from './signed-turn.js'
import type { UpdateRecord } from './update-store.js'
import type { AppendOptions, DurableLogOptions } from './durable-log-options.js'

/** Compact when this many updates follow the snapshot, unless DurableLogOptions.compactAfterUpdates says otherwise. */
export const DEFAULT_COMPACT_AFTER_UPDATES = 20_000

/** A group commit starts at once when this many updates are waiting. */
const GROUP_COMMIT_RECORDS = 256

export type {
  DurableLogOptions,
  CommitListener,
  AppendOptions,
  CommitInfo,
  CompactionInfo,
  CompactionListener,
} from './durable-log-options.js'

export type { StoreHealth, HealthListener, RetryOptions } from './store-health.js'

const APPEND_PREPARED = Symbol('ylog:append-prepared')

/**
 * A LogDoc whose every update is committed to an UpdateStore before it is
 * acknowledged. Appends that arrive while a commit is in flight are grouped
 * into the next one (group commit), so many concurrent writers share one
 * transaction and one fsync.
 *
 * If a commit fails the log stops accepting writes: the document then
 * holds entries the store does not (never acknowledged, never sent: peers
 * get committed updates only). A failure that can pass (disk full, an I/O
 * error: STORE_FULL, STORE_IO) is retried with backoff; once the store
 * takes writes again the document is rebuilt from what is committed, those
 * entries are gone and their seqs are signed again for new appends. Any
 * other failure stops writes until a restart, which replays the store.
 */
export class DurableLog extends CommittedLog {
  /** Seconds the last open spent replaying and verifying. */
  replaySeconds = 0
  #tail: TailCompactor
  readonly #options: DurableLogOptions
  readonly #recovery: StoreRecovery
  #pending: UpdateRecord[] = []
  #waiters: Array<{ resolve: () => void; reject: (err: Error) => void }> = []
  #committing = false
  #turnScheduled = false
  #closed = false
  // The signer and the document disagreed about the chain (a bug): no more writes, whatever the store does.
  #broken: Error | undefined
  #lastId = 0
  #signer: WorkerSigner | undefined
  // Signed entries waiting for this turn's single Yjs transaction.
  readonly #signedTurn = new SignedTurn((items) => this.#applyRun(items))

  private constructor(loaded: LoadedLog, options: DurableLogOptions) {
    super(loaded.log, options.store)
    this.#options = options
    this.#tail = this.#adopt(loaded)
    this.#recovery = new StoreRecovery(() => this.#rebuild(), options.retry)
  }

  /** Replays the store (snapshot, then tail), verifies every chain, and starts recording. */
  static async open(options: DurableLogOptions): Promise<DurableLog> {
    const started = performance.now()
    const durable = new DurableLog(await loadLog(options), options)
    if (options.signing === 'thread' && options.identity !== undefined)
      durable.#signer = new WorkerSigner(options.identity, chainHeadOf(durable.log, options.identity))
    durable.replaySeconds = (performance.now() - started) / 1000
    return durable
  }

  /** Whether the log takes writes; if not, why, and when it last tried again (`retrying`) or that it never will (`stopped`). */
  get health(): StoreHealth {
    return this.#recovery.health
  }

  /** Listens for changes of `health`: a failed commit, a retry, a recovery. */
  onHealth(listener: HealthListener): () => void {
    return this.#recovery.onChange(listener)
  }

  /** Appends one entry; resolves once it is committed. Never throws: refusals reject (rejecting.ts), as in every method here. */
  append(input: EntryInput, options: AppendOptions = {}): Promise<Entry> {
    if (options.idempotency !== undefined) return this.appendBatch([input], options).then((entries) => entries[0] as Entry)
    return rejecting(() => {
      this.#writable()
      return this[APPEND_PREPARED](this.log.prepare(input), options)
    })
  }

  /** `append` of an entry `LogDoc.prepare` checked and encoded already; core's ingest queue calls it through `appendPrepared`. */
  [APPEND_PREPARED](prepared: PreparedEntry, options: AppendOptions = {}): Promise<Entry> {
    return rejecting(() => {
      this.#writable()
      if (this.#signer === undefined) {
        const entry = this.log.appendPreparedBatch([prepared])[0] as Entry
        return this.#afterCommit().then(() => entry)
      }
      const { topic, body, at, time, tail } = prepared
      return this.#signer
        .sign({ tail, at, time })
        .then((signed) => this.#signedTurn.add([{ ...signed, topic, body }], options).then((entries) => entries[0] as Entry))
    })
  }

  /**
   * Appends entries as one update in one commit: all of them are
   * acknowledged together, or (an invalid entry, a failed commit) none.
   */
  appendBatch(inputs: readonly EntryInput[], options: AppendOptions = {}): Promise<Entry[]> {
    return rejecting(() => {
      this.#writable()
      if (inputs.length === 0) throw new YlogError('BAD_ARGUMENT', 'a batch needs at least one entry')
      if (this.#signer === undefined) {
        const entries = this.log.appendBatch(inputs)
        this.#attach(entries, options)
        return this.#afterCommit().then(() => entries)
      }
      const prepared = inputs.map((input, i) => inBatch(inputs.length, i, () => this.log.prepare(input)))
      return this.#signer.signGroup(prepared.map(({ tail, at, time }) => ({ tail, at, time }))).then((group) =>
        this.#signedTurn.add(
          group.map((signed, i) => ({ ...signed, topic: (prepared[i] as PreparedEntry).topic, body: (prepared[i] as PreparedEntry).body })),
          options,
        ),
      )
    })
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
      this.#broken ??= err as Error
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
    record.idempotency = {
      key: options.idempotency.key,
      requestHash: options.idempotency.requestHash,
      node: first.node,
      seq: first.seq,
      count: entries.length,
    }
  }

  /** Offers a remote update to the guard; accepted ones resolve after they are committed. */
  async applyRemote(update: Uint8Array): Promise<ApplyResult> {
    this.#writable()
    const result = this.log.applyRemote(update)
    if (result.status === 'accepted' && this.#pending.length > 0) await this.#afterCommit()
    return result
  }

  /** `applyRemote` for a run checked outside the log; ylog's import calls it through `applyCheckedRun`. */
  async [APPLY_CHECKED_RUN](run: CheckedRun): Promise<number> {
    this.#writable()
    const added = this.log[APPLY_CHECKED_RUN](run)
    if (added > 0 && this.#pending.length > 0) await this.#afterCommit()
    return added
  }

  /** Updates applied to the document but not yet committed. */
  get pending(): number {
    return this.#pending.length + (this.#committing ? 1 : 0)
  }

  /** Resolves when everything written so far is committed. */
  override async flush(): Promise<void> {
    if (this.#pending.length > 0 || this.#committing) await this.#afterCommit()
  }

  /** Commits what is pending, then adds what the tail holds to the snapshot and drops the tail's updates. */
  async compact(): Promise<void> {
    this.#writable()
    await this.flush()
    await this.#compact()
  }

  async close(): Promise<void> {
    if (this.#closed) return
    try {
      await this.flush()
    } finally {
      this.#closed = true
      this.#recovery.close()
      await this.#signer?.close()
      await this.store.close()
    }
  }

  #stopRecording: () => void = () => undefined

  #record(): void {
    const stopUpdates = this.log.onUpdate((update) => {
      this.#pending.push({ update, entries: [] })
      // Not #schedule(): a commit started here would take this record before
      // onEntries below has attached its index rows.
      this.#scheduleTurn()
    })
    const stopEntries = this.log.onEntries(({ node, fromSeq, count, entry }) => {
      const record = this.#pending[this.#pending.length - 1]
      if (record === undefined) return
      if (entry !== undefined) record.entries.push(indexRowOfEntry(entry))
      else for (let seq = fromSeq; seq < fromSeq + count; seq++) record.entries.push(indexRowAt(this.log, node, seq))
    })
    this.#stopRecording = () => {
      stopUpdates()
      stopEntries()
    }
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
      if (this.commitListeners.size > 0) {
        for (const listener of this.commitListeners) notify('commit', () => listener(info, updates, entries))
      }
      for (const w of waiters) w.resolve()
      if (this.#tail.due) await this.#compact()
    } catch (err) {
      // Entries in the document past what is committed stay there, refused to readers and peers, until a recovery drops them.
      const refusal = this.#recovery.refusal ?? this.#recovery.failed(err)
      for (const w of [...waiters, ...this.#waiters]) w.reject(refusal)
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
    for (const listener of this.compactionListeners) notify('compaction', () => listener(info))
  }

  #writable(): void {
    const refusal = this.#broken ?? this.#recovery.refusal
    if (refusal !== undefined) throw refusal
    if (this.#closed) throw new YlogError('CLOSED', 'the log is closed')
  }

  /** Takes a document loaded from the store as the log: what is committed, the update id, a compactor over it. */
  #adopt({ log, state, snapshotHeads }: LoadedLog): TailCompactor {
    const options = this.#options
    this.replaceLog(log)
    this.#lastId = state.lastId
    this.committed.clear()
    for (const [node, head] of log.heads()) this.committed.set(node, head.length)
    this.#record()
    const thresholds = {
      afterUpdates: options.compactAfterUpdates ?? DEFAULT_COMPACT_AFTER_UPDATES,
      afterBytes: options.compactAfterBytes ?? 16 * 1024 * 1024,
    }
    return new TailCompactor(options.store, log.doc, thresholds, { snapshotHeads, state })
  }

  /**
   * One retry: the store takes a write (its probe), then the document is rebuilt from it. The old document's uncommitted
   * entries were never acknowledged or sent, so dropping them changes nothing anyone saw.
   */
  async #rebuild(): Promise<void> {
    if (this.#closed) throw new YlogError('STORE_FAILED', 'the log closed while it was recovering')
    await this.store.probe?.()
    const loaded = await loadLog({ ...this.#options, onReplayProgress: undefined })
    for (const [node, length] of this.committed) {
      if (loaded.log.length(node) < length)
        throw new YlogError(
          'STORE_CORRUPT',
          `after a failed commit the store holds ${loaded.log.length(node)} entries of ${node}, but ${length} were committed`,
        )
    }
    if (this.#committing || this.#closed) throw new YlogError('STORE_IO', 'a commit was in flight during the recovery; trying again')
    this.#stopRecording()
    this.#tail = this.#adopt(loaded)
    this.#pending = []
    this.#signer?.rewind(
      chainHeadOf(this.log, this.#options.identity),
      this.#recovery.refusal ?? new YlogError('STORE_FAILED', 'the log recovered'),
    )
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

/**
 * Appends an entry `LogDoc.prepare` checked and encoded earlier, without
 * checking and encoding it again: for core's modules (the ingest queue
 * prepares each event when it is pushed). Not exported publicly: prepared
 * entries are trusted to match their own fields.
 */
export function appendPrepared(durable: DurableLog, prepared: PreparedEntry): Promise<Entry> {
  return durable[APPEND_PREPARED](prepared)
}

/**
 * Adds a run of another node's entries that the caller checked as the guard
 * would (every entry with checkEntry, the run with verifyRun), without the
 * guard; resolves with the entries added once they are committed. Only
 * the run's place is checked here: membership, the seq and hash of the
 * node's head, held entries byte for byte. For ylog's bulk import, which
 * checks on a worker thread; anything else goes through applyRemote.
 */
export function applyCheckedRun(durable: DurableLog, run: CheckedRun): Promise<number> {
  return durable[APPLY_CHECKED_RUN](run)
}
