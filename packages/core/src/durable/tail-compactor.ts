import * as Y from 'yjs'
import { encodeDiffChunks } from '../doc/diff-chunks.js'
import { clientIdOf, type NodeId } from '../entry/identity.js'
import { entryClock } from '../doc/layout.js'
import { Serial } from '../consume/serial.js'
import type { CompactionInfo } from './durable-log-options.js'
import type { StoredState, UpdateStore } from './update-store.js'

/**
 * Largest part a compaction writes. Parts load as fast as one big update
 * (docs/benchmarks.md), and a store can write one without holding a
 * buffer of the whole snapshot per row.
 */
export const SNAPSHOT_PART_BYTES = 4 * 1024 * 1024

/**
 * The Yjs clocks below which the first `length` entries of each node lie:
 * clock ranges fixed by the layout (layout.ts), so "everything up to entry
 * n" needs no walk through the document.
 */
export function clocksOf(lengths: Iterable<[NodeId, number]>): Map<number, number> {
  const clocks = new Map<number, number>()
  for (const [node, length] of lengths) clocks.set(clientIdOf(node), length === 0 ? 0 : entryClock(length - 1) + 1)
  return clocks
}

/**
 * What a compaction adds to the snapshot: the structs between `covered`
 * (what the snapshot holds) and `upTo` (what is committed), as Yjs v2
 * updates of at most SNAPSHOT_PART_BYTES, in the order to apply them; none
 * when there is nothing new. Never anything uncommitted: a snapshot part
 * is trusted at replay, and an entry whose commit failed must not return.
 */
export function encodeSnapshotParts(doc: Y.Doc, covered: ReadonlyMap<number, number>, upTo: ReadonlyMap<number, number>): Uint8Array[] {
  const grew = [...upTo].some(([client, clock]) => clock > (covered.get(client) ?? 0))
  if (!grew) return []
  return encodeDiffChunks(doc, Y.encodeStateVector(covered as Map<number, number>), SNAPSHOT_PART_BYTES, upTo, 'v2')
}

/** What is committed when a compaction starts: the last update id, and each client's committed clock. */
export interface CommittedState {
  lastId: number
  clocks: Map<number, number>
}

/**
 * Decides when to compact and does it: counts the tail (updates committed
 * after the snapshot), and when it passes a threshold encodes what it holds
 * as snapshot parts for the store to add. DurableLog's compaction half.
 */
export class TailCompactor {
  readonly #store: UpdateStore
  readonly #doc: Y.Doc
  readonly #afterUpdates: number
  readonly #afterBytes: number
  // Per Yjs client, the clock below which the stored snapshot holds everything.
  #covered: Map<number, number>
  #snapshotBytes: number
  #tailUpdates: number
  #tailBytes: number
  // One compaction at a time, in call order: automatic ones and compact() calls may overlap.
  readonly #serial = new Serial()

  constructor(
    store: UpdateStore,
    doc: Y.Doc,
    thresholds: { afterUpdates: number; afterBytes: number },
    stored: { snapshotHeads: Iterable<[NodeId, number]>; state: StoredState },
  ) {
    this.#store = store
    this.#doc = doc
    this.#afterUpdates = thresholds.afterUpdates
    this.#afterBytes = thresholds.afterBytes
    this.#covered = clocksOf(stored.snapshotHeads)
    this.#snapshotBytes = sum(stored.state.snapshot)
    this.#tailUpdates = stored.state.tail.length
    this.#tailBytes = sum(stored.state.tail)
  }

  /** Counts a commit's updates into the tail. */
  committed(updates: readonly Uint8Array[]): void {
    this.#tailUpdates += updates.length
    this.#tailBytes += sum(updates)
  }

  get due(): boolean {
    return this.#tailUpdates >= this.#afterUpdates || this.#tailBytes >= this.#afterBytes
  }

  /**
   * Encodes what was committed since the last compaction (never the whole
   * log) and lets the store add it to the snapshot and drop the updates it
   * covers. `now()` is read when this compaction's turn comes: everything
   * up to its lastId must be committed and in its clocks, so the parts hold
   * all those updates wrote, and nothing still pending.
   */
  compact(now: () => CommittedState): Promise<CompactionInfo> {
    return this.#serial.run(() => this.#compact(now()))
  }

  async #compact({ lastId: upTo, clocks }: CommittedState): Promise<CompactionInfo> {
    const tail = { updates: this.#tailUpdates, bytes: this.#tailBytes }
    const started = performance.now()
    const parts = encodeSnapshotParts(this.#doc, this.#covered, clocks)
    const added = sum(parts) // before the call: the store may take the buffers over
    await this.#store.compact(parts, upTo)
    this.#covered = clocks
    this.#snapshotBytes += added
    // Commits made while the store worked (a compact() call does not hold them) stay counted.
    this.#tailUpdates -= tail.updates
    this.#tailBytes -= tail.bytes
    return { upTo, addedBytes: added, snapshotBytes: this.#snapshotBytes, seconds: (performance.now() - started) / 1000 }
  }
}

function sum(buffers: readonly Uint8Array[]): number {
  return buffers.reduce((n, b) => n + b.byteLength, 0)
}
