import * as Y from 'yjs'
import { bytesEqual, toHex, ZERO_HASH } from '../entry/bytes.js'
import { verifyChains, type ChainsVerdict } from '../entry/chain.js'
import { signEntryTail, type Entry, type EntryInput } from '../entry/entry.js'
import { DEFAULT_MAX_CLOCK_SKEW_MS, type TimeLimits } from '../entry/entry-time.js'
import { inBatch, prepareEntry, type PreparedEntry } from '../durable/prepare-entry.js'
import { YlogError } from '../errors.js'
import type { NodeId, NodeIdentity } from '../entry/identity.js'
import { planCheckedRun, type CheckedRun } from './checked-run.js'
import { encodeEntriesUpdate } from './entries-update.js'
import { entriesBelowClock, entryClock, ROOT_MAP, SEGMENT_SIZE } from './layout.js'
import { openMembership, type Membership } from './membership.js'
import { HeldUpdates } from './held-updates.js'
import { LogView } from './log-view.js'
import { NodeStates } from './node-states.js'
import {
  ORIGIN_LOCAL,
  ORIGIN_REMOTE,
  ORIGIN_REPLAY,
  type ApplyResult,
  type EntriesAdded,
  type Head,
  type LogDocOptions,
  type SeqRange,
  type SignedEntry,
  type UpdateOrigin,
} from './log-types.js'
import { appliedAsChecked, checkUpdate, type ForkEvidence, type GuardView, type Verdict } from './update-guard.js'

export {
  ORIGIN_LOCAL,
  ORIGIN_REMOTE,
  ORIGIN_REPLAY,
  type UpdateOrigin,
  type LogDocOptions,
  type Head,
  type SignedEntry,
  type SeqRange,
  type ApplyResult,
  type EntriesAdded,
} from './log-types.js'

/** LogDoc's method for runs checked outside it; not exported from the package (see applyCheckedRun in durable-log.ts). */
export const APPLY_CHECKED_RUN = Symbol('ylog:apply-checked-run')

/**
 * The log: one Yjs document holding every node's signed entries (layout.ts),
 * the heads derived from it, and the guard in front of remote updates.
 * Local appends are synchronous, so seq assignment is atomic in a process.
 */
export class LogDoc extends LogView {
  readonly doc: Y.Doc
  readonly identity: NodeIdentity | undefined
  readonly membership: Membership
  readonly #now: () => number
  readonly #timeLimits: TimeLimits
  readonly #root: Y.Map<Y.Array<Y.Array<Uint8Array>>>
  readonly #states: NodeStates
  readonly #forks: ForkEvidence[] = []
  readonly #held: HeldUpdates
  readonly #entryListeners = new Set<(added: EntriesAdded) => void>()
  readonly #view: GuardView
  /** Accepted updates Yjs applied otherwise than the guard checked them (a bug; see appliedAsChecked). */
  guardMismatches = 0

  constructor(options: LogDocOptions = {}) {
    super()
    this.identity = options.identity
    this.membership = options.membership ?? openMembership
    this.#now = options.now ?? Date.now
    this.#timeLimits = { maxFutureMs: options.maxClockSkewMs ?? DEFAULT_MAX_CLOCK_SKEW_MS, minMs: options.minTimeMs ?? 0 }
    for (const [name, value] of [
      ['maxClockSkewMs', this.#timeLimits.maxFutureMs],
      ['minTimeMs', this.#timeLimits.minMs],
    ] as const) {
      if (!Number.isSafeInteger(value) || value < 0)
        throw new YlogError('BAD_ARGUMENT', `${name} must be a non-negative integer, got ${value}`)
    }
    this.#held = new HeldUpdates(options.maxHeldBytes ?? 64 * 1024 * 1024)
    if (this.identity !== undefined && !this.membership.isMember(this.identity.id)) {
      throw new YlogError('NOT_MEMBER', `this node (${this.identity.id}) is not in the membership list; add its id to the members`)
    }
    this.doc = new Y.Doc({ gc: false })
    this.#states = new NodeStates(this.doc)
    this.#root = this.doc.getMap(ROOT_MAP)
    this.#restoreClientId()
    this.#view = {
      stateOf: (client) => this.clockOf(client),
      headOfClient: (client) => this.#states.ofClient(client),
      isMember: (node) => this.membership.isMember(node),
      entryBytes: (node, seq) => this.getBytes(node, seq),
    }
  }

  /** Signs and appends one entry as this node; returns it with its seq and hash. */
  append(input: EntryInput): Entry {
    return this.appendBatch([input])[0] as Entry
  }

  /** Signs and appends entries as one update (all or none); an invalid one throws naming its index, and nothing is appended. */
  appendBatch(inputs: readonly EntryInput[]): Entry[] {
    return this.appendPreparedBatch(inputs.map((input, i) => inBatch(inputs.length, i, () => this.prepare(input))))
  }

  /**
   * `appendBatch` for entries `prepare` checked and encoded already (the
   * ingest queue checks each event when it is pushed): signs and appends them
   * as one update.
   */
  appendPreparedBatch(batch: readonly PreparedEntry[]): Entry[] {
    const state = this.identity === undefined ? undefined : this.#states.stateFor(this.identity.id)
    let head = { seq: state?.next ?? 0, prev: state?.hash ?? ZERO_HASH, at: state?.at ?? 0 }
    const signed = batch.map((prepared, i) =>
      inBatch(batch.length, i, () => {
        const { identity, topic, body, at: requested, time, tail } = prepared
        // A node's clock never runs backwards in its own log: readers merge by `at`.
        const at = Math.max(requested, head.at)
        const { bytes, hash } = signEntryTail(identity, { seq: head.seq, prev: head.prev, at }, tail, time)
        const entry: SignedEntry = {
          seq: head.seq,
          prev: head.prev,
          at,
          ...(time === undefined ? {} : { time }),
          topic,
          body,
          bytes,
          hash,
        }
        head = { seq: head.seq + 1, prev: hash, at }
        return entry
      }),
    )
    return this.appendSignedBatch(signed)
  }

  /** The log's clock (the `now` option): what `at` is stamped from. */
  now(): number {
    return this.#now()
  }

  /** Validates an append's input and encodes it for the signer (prepareEntry); what `append` does before signing. */
  prepare(input: EntryInput): PreparedEntry {
    const identity = this.identity
    if (identity === undefined)
      throw new YlogError('BAD_ARGUMENT', 'this log has no identity, so it cannot append; construct it with { identity }')
    return prepareEntry(identity, input, this.#now(), this.#timeLimits)
  }

  /**
   * Appends entries signed elsewhere, in order, as one Yjs transaction: one
   * update, so a store commits all of them or none.
   */
  appendSignedBatch(batch: readonly SignedEntry[]): Entry[] {
    const identity = this.identity
    if (identity === undefined)
      throw new YlogError('BAD_ARGUMENT', 'this log has no identity, so it cannot append; construct it with { identity }')
    const state = this.#states.stateFor(identity.id)
    let expected = { seq: state.next, hash: state.hash }
    for (const { seq, prev, hash } of batch) {
      if (seq !== expected.seq || !bytesEqual(prev, expected.hash)) {
        throw new YlogError(
          'CHAIN_MISMATCH',
          `signed entry seq ${seq} does not extend this node's head (next seq ${expected.seq}); the signer and the log disagree`,
        )
      }
      expected = { seq: seq + 1, hash }
    }
    if (batch.length === 0) return []
    this.doc.transact(() => {
      for (const { seq, bytes } of batch) {
        if (seq === 0) {
          state.segments = new Y.Array()
          this.#root.set(identity.id, state.segments)
        }
        if (seq % SEGMENT_SIZE === 0) {
          state.segment = new Y.Array()
          this.#states.segmentsOf(state).push([state.segment])
        }
        ;(state.segment ?? this.#states.currentSegment(state)).push([bytes])
      }
    }, ORIGIN_LOCAL)
    // Listeners hear of the entries after the update event, as for remote updates: DurableLog pairs them with its record.
    return batch.map((signed) => {
      const { seq, prev, at, time, bytes, hash, body } = signed
      state.next = seq + 1
      state.hash = hash
      state.at = at
      const timed = time === undefined ? {} : { time }
      const entry = {
        node: identity.id,
        seq,
        prev: toHex(prev),
        at,
        ...timed,
        topic: signed.topic,
        ...body,
        sig: toHex(bytes.subarray(bytes.byteLength - 64)),
        hash: toHex(hash),
      } as Entry
      this.#emit({ node: identity.id, fromSeq: seq, count: 1, origin: ORIGIN_LOCAL, entry })
      return entry
    })
  }

  /**
   * Offers an update from elsewhere to the guard. Accepted updates are
   * applied whole, then held ones that now fit are retried; refused ones
   * change nothing. A fork is refused and its evidence kept (`forks()`).
   */
  applyRemote(update: Uint8Array): ApplyResult {
    const verdict = checkUpdate(this.#view, update)
    if (verdict.status === 'refuse') {
      if (verdict.fork !== undefined) this.#recordFork(verdict.fork)
      return { status: 'refused', reason: verdict.reason, detail: verdict.detail }
    }
    if (verdict.status === 'hold') {
      for (const w of verdict.waiting) if (w.node !== undefined && w.maxSeq !== undefined) this.noteKnown(w.node, w.maxSeq)
      this.#held.add(update, verdict.waiting)
      return { status: 'held', waiting: this.#held.count }
    }
    const added = this.#commit(update, verdict)
    return { status: 'accepted', added, released: this.#releaseHeld() }
  }

  /**
   * Adds a run of a node's entries that the caller checked as the guard
   * would (CheckedRun), without the guard: only its place is checked here
   * (planCheckedRun), then it is applied as the update its writer made and
   * the heads advance as for an accepted update. Returns the entries added.
   */
  [APPLY_CHECKED_RUN](run: CheckedRun): number {
    const state = this.#states.get(run.node)
    const plan = planCheckedRun(
      {
        isMember: (node) => this.membership.isMember(node),
        length: (node) => this.#states.length(node),
        bytes: (node, seq) => this.getBytes(node, seq),
        head: () => ({ hash: state?.hash ?? ZERO_HASH, at: state?.at ?? 0 }),
      },
      run,
    )
    if (plan === undefined) return 0
    const { publicKey, client } = this.#states.stateFor(run.node)
    const update = encodeEntriesUpdate(run.node, plan.fromSeq, plan.entries)
    const end = entryClock(plan.fromSeq + plan.entries.length - 1) + 1
    const added = this.#commit(update, {
      status: 'accept',
      runs: [{ node: run.node, publicKey, client, ...plan }],
      ends: new Map([[client, end]]),
    })
    this.#releaseHeld()
    return added
  }

  /**
   * Applies bytes this node stored itself (snapshot or update log) without
   * the guard, then rebuilds heads from the layout. Call verifyChains() after
   * a replay to check what was loaded.
   */
  loadTrusted(update: Uint8Array | readonly Uint8Array[], format: 'v1' | 'v2' = 'v1'): void {
    const updates = update instanceof Uint8Array ? [update] : update
    const apply = format === 'v2' ? Y.applyUpdateV2 : Y.applyUpdate
    // One transaction for many updates: Yjs cleans up once instead of per update (about 2x faster).
    this.#applyForeign(() => this.doc.transact(() => updates.forEach((u) => apply(this.doc, u, ORIGIN_REPLAY)), ORIGIN_REPLAY))
    this.#states.rebuild(this.#root.keys())
  }

  /**
   * Checks chains: hash links, seqs, time order, one signature per chunk.
   * With `from`, only entries at or after from.get(node) are checked, linked
   * to the (trusted) entry before them: what a replay does for the tail after
   * a checksummed snapshot.
   */
  verifyChains(from?: ReadonlyMap<NodeId, number>): ChainsVerdict {
    return verifyChains(this.#states.all(), (node, seq) => this.getBytes(node, seq), from)
  }

  /** Records that `node` has entries up to `seq` elsewhere; callers vouch for it (the guard: a validly signed held entry). */
  noteKnown(node: NodeId, seq: number): void {
    this.#states.noteKnown(node, seq)
  }

  getBytes(node: NodeId, seq: number): Uint8Array | undefined {
    return this.#states.bytes(node, seq)
  }

  /** Number of entries held for a node. */
  length(node: NodeId): number {
    return this.#states.length(node)
  }

  /** Known nodes, sorted by id. */
  nodes(): NodeId[] {
    return this.#states.nodes()
  }

  /**
   * Each node's head: with `lengthOf`, as of that many entries per node (a
   * DurableLog asks for its committed ones; nodes at 0 are left out), else
   * of everything the document holds.
   */
  heads(lengthOf?: (node: NodeId) => number): Map<NodeId, Head> {
    return this.#states.heads(new Set(this.#forks.map((f) => f.node)), lengthOf)
  }

  /** Per node, seq ranges known to exist (held updates, peers' heads) but missing here (below `lengthOf(node)` when given). */
  holes(lengthOf?: (node: NodeId) => number): Map<NodeId, SeqRange[]> {
    return this.#states.holes(lengthOf)
  }

  forks(): readonly ForkEvidence[] {
    return this.#forks
  }

  /** Listens for entries added by appends, accepted updates and replays. */
  onEntries(listener: (added: EntriesAdded) => void): () => void {
    this.#entryListeners.add(listener)
    return () => this.#entryListeners.delete(listener)
  }

  /** Listens for Yjs updates to persist or relay (local appends and accepted remote updates). */
  onUpdate(listener: (update: Uint8Array, origin: UpdateOrigin) => void): () => void {
    const handler = (update: Uint8Array, origin: unknown): void => {
      if (origin === ORIGIN_LOCAL || origin === ORIGIN_REMOTE) listener(update, origin)
    }
    this.doc.on('update', handler)
    return () => this.doc.off('update', handler)
  }

  #commit(update: Uint8Array, { runs, ends }: Extract<Verdict, { status: 'accept' }>): number {
    this.#applyForeign(() => Y.applyUpdate(this.doc, update, ORIGIN_REMOTE))
    const exact = appliedAsChecked(this.doc, ends)
    if (!exact) this.guardMismatches++
    // After a mismatch a run counts only as far as Yjs integrated it: heads never claim an entry that is not readable.
    const counts = runs.map((run) =>
      exact
        ? run.entries.length
        : Math.max(0, Math.min(run.entries.length, entriesBelowClock(Y.getState(this.doc.store, run.client)) - run.fromSeq)),
    )
    const added = this.#states.advance(runs, counts)
    runs.forEach(
      (run, i) =>
        counts[i] !== 0 && this.#emit({ node: run.node, fromSeq: run.fromSeq, count: counts[i] as number, origin: ORIGIN_REMOTE }),
    )
    return added
  }

  #releaseHeld(): number {
    return this.#held.release(
      (client) => Y.getState(this.doc.store, client),
      (update) => {
        const verdict = checkUpdate(this.#view, update)
        if (verdict.status === 'hold') return 'hold'
        if (verdict.status === 'accept') {
          this.#commit(update, verdict)
          return 'applied'
        }
        if (verdict.fork !== undefined) this.#recordFork(verdict.fork)
        return 'dropped'
      },
    )
  }

  #recordFork(fork: ForkEvidence): void {
    if (!this.#forks.some((f) => f.node === fork.node && f.seq === fork.seq && f.entries[1].hash === fork.entries[1].hash))
      this.#forks.push(fork)
  }

  #restoreClientId(): void {
    if (this.identity !== undefined) this.doc.clientID = this.identity.clientId
  }

  // Yjs picks a new client id when a non-local transaction writes under its
  // own (our entries coming back after a restore). Ours is bound to our key,
  // so step aside during the apply; no key maps to client id 0 in practice (2^-48).
  #applyForeign(apply: () => void): void {
    this.doc.clientID = 0
    try {
      apply()
    } finally {
      this.#restoreClientId()
    }
  }

  #emit(added: EntriesAdded): void {
    for (const listener of this.#entryListeners) listener(added)
  }
}
