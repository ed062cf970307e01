import * as Y from 'yjs'
import type { ChainsVerdict } from '../entry/chain.js'
import type { Entry } from '../entry/entry.js'
import { encodeDiffChunks } from '../doc/diff-chunks.js'
import { clocksOf } from './tail-compactor.js'
import type { NodeId, NodeIdentity } from '../entry/identity.js'
import type { Head, LogDoc, SeqRange } from '../doc/log-doc.js'
import type { Membership } from '../doc/membership.js'
import { readAll } from '../doc/reads.js'
import type { EntryIndex, IndexQuery, StoreStats, UpdateStore } from './update-store.js'
import type { CommitListener, CompactionListener } from './durable-log-options.js'
import type { ForkEvidence } from '../doc/update-guard.js'

/** The key under which a DurableLog keeps its document, for core's own modules (`logDocOf`). */
const LOG_DOC = Symbol('ylog:log-doc')

/**
 * What readers of a node's log may see: its committed entries, heads and
 * holes, and nothing a crash could take back. DurableLog (the writer side)
 * extends it; the document and the store stay inside.
 */
export abstract class CommittedLog {
  /** Entries per node known to be in the store. */
  protected readonly committed = new Map<NodeId, number>()
  protected readonly commitListeners = new Set<CommitListener>()
  protected readonly compactionListeners = new Set<CompactionListener>()
  protected readonly store: UpdateStore & EntryIndex;
  // Replaced only when a DurableLog rebuilds itself from its store after a failed commit (recovery): readers fetch it each time.
  [LOG_DOC]: LogDoc

  protected constructor(log: LogDoc, store: UpdateStore & EntryIndex) {
    this[LOG_DOC] = log
    this.store = store
  }

  protected get log(): LogDoc {
    return this[LOG_DOC]
  }

  /** Swaps in a document rebuilt from the store; it must hold every committed entry (the caller checks). */
  protected replaceLog(log: LogDoc): void {
    this[LOG_DOC] = log
  }

  /** The node that writes here, if any (a replica has none). */
  get identity(): NodeIdentity | undefined {
    return this.log.identity
  }

  /** Who may write. */
  get membership(): Membership {
    return this.log.membership
  }

  /**
   * How many of a node's entries are committed here: seqs below it are in
   * the store and may be shown to readers; the document may briefly hold
   * more (appends and updates waiting for their commit).
   */
  committedLength(node: NodeId): number {
    return this.committed.get(node) ?? 0
  }

  /** Nodes with committed entries, sorted by id. */
  nodes(): NodeId[] {
    return [...this.committed]
      .filter(([, length]) => length > 0)
      .map(([node]) => node)
      .sort()
  }

  /** A committed entry, or undefined. */
  get(node: NodeId, seq: number): Entry | undefined {
    return seq < this.committedLength(node) ? this.log.get(node, seq) : undefined
  }

  /** A committed entry's signed bytes, or undefined. */
  getBytes(node: NodeId, seq: number): Uint8Array | undefined {
    return seq < this.committedLength(node) ? this.log.getBytes(node, seq) : undefined
  }

  /** One node's committed entries with from <= seq < to. */
  range(node: NodeId, from = 0, to = this.committedLength(node)): Entry[] {
    return this.log.range(node, from, Math.min(to, this.committedLength(node)))
  }

  /** Every committed entry, in (node, seq) order. */
  *entries(): IterableIterator<Entry> {
    for (const entry of readAll(this.log)) if (entry.seq < this.committedLength(entry.node)) yield entry
  }

  /** Each committed node's head as of its committed entries: what a reader may rely on (a crash cannot take it back). */
  heads(): Map<NodeId, Head> {
    return this.log.heads((node) => this.committedLength(node))
  }

  /** Seq ranges known to exist elsewhere (held updates, peers) but not committed here. */
  holes(): Map<NodeId, SeqRange[]> {
    return this.log.holes((node) => this.committedLength(node))
  }

  /** Checks every chain the document holds: hash links, seqs, time order, signatures. */
  verifyChains(): ChainsVerdict {
    return this.log.verifyChains()
  }

  /**
   * The part of the document a peer with state vector `sv` lacks, holding
   * only committed updates (the answer to a sync step 1), cut into updates
   * of at most about `maxBytes` each, to send in order. Each node's
   * committed entries end at a clock the layout fixes, so what is still
   * pending is left out by clock, without waiting for a quiet moment (which
   * under steady writes may never come).
   */
  committedDiffChunks(stateVector: Uint8Array | undefined, maxBytes: number): Uint8Array[] {
    return encodeDiffChunks(this.log.doc, stateVector, maxBytes, clocksOf(this.committed))
  }

  /** Everything committed here as one Yjs update (v1), for a replica or a stock client to load. */
  encodeCommitted(): Uint8Array {
    const chunks = encodeDiffChunks(this.log.doc, undefined, Number.MAX_SAFE_INTEGER, clocksOf(this.committed))
    return chunks.length === 1 ? (chunks[0] as Uint8Array) : Y.mergeUpdates(chunks)
  }

  /** Proof of nodes that signed two different entries for one seq. */
  forks(): readonly ForkEvidence[] {
    return this.log.forks()
  }

  /**
   * Positions of committed entries matching a query, from the store's
   * index. The index may run ahead of `committedLength` for a moment (a
   * commit lands before its listeners run): callers skip what lies beyond.
   */
  query(query: IndexQuery): Promise<Array<{ node: NodeId; seq: number }>> {
    return this.store.query(query)
  }

  /** How much the store holds (updates, snapshot, bytes on disk). */
  storeStats(): Promise<StoreStats> {
    return this.store.stats()
  }

  /**
   * The document's Yjs state vector, for a sync step 1. It may count updates
   * not yet committed: the other side then does not resend them, and after a
   * crash the next connection asks again from what was replayed.
   */
  stateVector(): Uint8Array {
    return this.log.stateVector()
  }

  /** The Yjs clock a client (a node's writer) has reached in the document. */
  clockOf(client: number): number {
    return this.log.clockOf(client)
  }

  /** Accepted updates Yjs applied otherwise than the guard checked them: 0 unless there is a bug (see appliedAsChecked). */
  get guardMismatches(): number {
    return this.log.guardMismatches
  }

  /** Resolves when everything written so far is committed. */
  abstract flush(): Promise<void>

  /**
   * The deep check: the store's own (SQLite integrity_check, snapshot
   * checksum) plus every node's whole chain from seq 0. Slower than the
   * checks at open; run it from an operator's command, not on a hot path.
   */
  async checkIntegrity(): Promise<{ ok: boolean; problems: string[] }> {
    await this.flush()
    // Started first: a threaded store checks its file on its own thread while this one walks the chains.
    const storeCheck = Promise.resolve(this.store.checkIntegrity?.() ?? { ok: true, problems: [] })
    storeCheck.catch(() => undefined)
    const chains = this.log.verifyChains()
    const problems = [...(await storeCheck).problems]
    if (!chains.ok) problems.push(`node ${chains.node} seq ${chains.seq}: ${chains.detail}`)
    return { ok: problems.length === 0, problems }
  }

  /** Listens for commits: what was written, the entries it added, and how long it took. */
  onCommit(listener: CommitListener): () => void {
    this.commitListeners.add(listener)
    return () => this.commitListeners.delete(listener)
  }

  /** Listens for compactions (automatic or `compact()`): commits wait while one runs. */
  onCompaction(listener: CompactionListener): () => void {
    this.compactionListeners.add(listener)
    return () => this.compactionListeners.delete(listener)
  }
}

/** For core's modules that work on the document itself (reads, subscriptions, the ingest queue): never exported publicly. */
export function logDocOf(log: CommittedLog): LogDoc {
  return log[LOG_DOC]
}
