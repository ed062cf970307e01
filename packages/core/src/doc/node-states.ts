import * as Y from 'yjs'
import { sha256, toHex, ZERO_HASH } from '../entry/bytes.js'
import { peekEntry } from '../entry/entry.js'
import { clientIdOf, type NodeId } from '../entry/identity.js'
import { YlogError } from '../errors.js'
import { entriesBelowClock, entryClock, segmentClock, SEGMENT_SIZE } from './layout.js'
import type { Head, SeqRange } from './log-types.js'
import type { AcceptedRun, NodeHead } from './update-guard.js'

/** One node's part of the document: its head, and its arrays once found. */
export interface NodeState extends NodeHead {
  client: number
  segments: Y.Array<Y.Array<Uint8Array>> | undefined
  segment: Y.Array<Uint8Array> | undefined
}

/**
 * Each node's head in a LogDoc's document (next seq, last hash and time),
 * by node id and by Yjs client, and the document's arrays that hold its
 * entries, found by the clocks the layout fixes (layout.ts).
 */
export class NodeStates {
  readonly #doc: Y.Doc
  readonly #nodes = new Map<NodeId, NodeState>()
  readonly #byClient = new Map<number, NodeState>()
  /** Per node, the highest seq known to exist elsewhere (a signed held entry). */
  readonly #known = new Map<NodeId, number>()

  constructor(doc: Y.Doc) {
    this.#doc = doc
  }

  get(node: NodeId): NodeState | undefined {
    return this.#nodes.get(node)
  }

  ofClient(client: number): NodeState | undefined {
    return this.#byClient.get(client)
  }

  /** A node's state, created empty on first use. */
  stateFor(node: NodeId): NodeState {
    let state = this.#nodes.get(node)
    if (state === undefined) {
      state = {
        node,
        publicKey: new Uint8Array(Buffer.from(node, 'hex')),
        client: clientIdOf(node),
        next: 0,
        hash: ZERO_HASH,
        at: 0,
        segments: undefined,
        segment: undefined,
      }
      this.#nodes.set(node, state)
      this.#byClient.set(state.client, state)
    }
    return state
  }

  all(): IterableIterator<NodeState> {
    return this.#nodes.values()
  }

  /** Nodes with entries, sorted by id. */
  nodes(): NodeId[] {
    return [...this.#nodes.values()]
      .filter((s) => s.next > 0)
      .map((s) => s.node)
      .sort()
  }

  length(node: NodeId): number {
    return this.#nodes.get(node)?.next ?? 0
  }

  /** An entry's bytes as the document holds them. */
  bytes(node: NodeId, seq: number): Uint8Array | undefined {
    const state = this.#nodes.get(node)
    if (state === undefined || !Number.isSafeInteger(seq) || seq < 0 || seq >= state.next) return undefined
    // Every struct of a node has length 1 and nothing is ever deleted or merged,
    // so a struct's index in the client's list is its clock: no search needed.
    const clock = entryClock(seq)
    const structs = this.#doc.store.clients.get(state.client)
    let item = structs?.[clock]
    if (item === undefined || item.id.clock !== clock) item = Y.getItem(this.#doc.store, Y.createID(state.client, clock))
    return item instanceof Y.Item && item.content instanceof Y.ContentBinary ? item.content.content : undefined
  }

  /**
   * Each node's head: with `lengthOf`, as of that many entries per node
   * (nodes at 0 are left out), else of everything the document holds.
   */
  heads(forked: ReadonlySet<NodeId>, lengthOf?: (node: NodeId) => number): Map<NodeId, Head> {
    const heads = new Map<NodeId, Head>()
    for (const node of this.nodes()) {
      const s = this.#nodes.get(node) as NodeState
      const length = lengthOf === undefined ? s.next : Math.min(lengthOf(node), s.next)
      if (length === s.next) heads.set(node, { node, length, hash: toHex(s.hash), at: s.at, forked: forked.has(node) })
      else if (length > 0) {
        const last = this.bytes(node, length - 1) as Uint8Array
        heads.set(node, { node, length, hash: toHex(sha256(last)), at: peekEntry(last)?.at ?? 0, forked: forked.has(node) })
      }
    }
    return heads
  }

  noteKnown(node: NodeId, seq: number): void {
    if (seq > (this.#known.get(node) ?? -1)) this.#known.set(node, seq)
  }

  /** Per node, seq ranges known to exist but missing here (below `lengthOf(node)` when given, else below what the document holds). */
  holes(lengthOf: (node: NodeId) => number = (node) => this.length(node)): Map<NodeId, SeqRange[]> {
    const holes = new Map<NodeId, SeqRange[]>()
    for (const [node, known] of [...this.#known.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const next = lengthOf(node)
      if (known >= next) holes.set(node, [{ from: next, to: known }])
    }
    return holes
  }

  /** Moves heads past the entries of accepted runs that Yjs integrated (`counts[i]` of run i); returns how many. */
  advance(runs: readonly AcceptedRun[], counts: readonly number[]): number {
    let added = 0
    runs.forEach((run, i) => {
      const count = counts[i] as number
      if (count === 0) return
      const state = this.stateFor(run.node)
      state.next = run.fromSeq + count
      state.hash = run.hashes[count - 1] as Uint8Array
      state.at = count === run.entries.length ? run.lastAt : (peekEntry(run.entries[count - 1] as Uint8Array)?.at ?? state.at)
      state.segments = undefined
      state.segment = undefined
      added += count
    })
    return added
  }

  /** Rebuilds the heads of `nodes` from the document's clocks, after bytes were loaded without the guard. */
  rebuild(nodes: Iterable<NodeId>): void {
    for (const node of nodes) {
      const state = this.stateFor(node)
      const next = entriesBelowClock(Y.getState(this.#doc.store, state.client))
      if (next === state.next) continue
      state.next = next
      const last = next > 0 ? this.bytes(node, next - 1) : undefined
      state.hash = last === undefined ? ZERO_HASH : sha256(last)
      state.at = last === undefined ? 0 : (peekEntry(last)?.at ?? 0)
      state.segments = undefined
      state.segment = undefined
    }
  }

  // After a replay or a remote write to our own part, find our arrays by their layout clocks.
  segmentsOf(state: NodeState): Y.Array<Y.Array<Uint8Array>> {
    state.segments ??= this.#typeAt(state.client, 0) as Y.Array<Y.Array<Uint8Array>>
    return state.segments
  }

  currentSegment(state: NodeState): Y.Array<Uint8Array> {
    state.segment = this.#typeAt(state.client, segmentClock(Math.floor(state.next / SEGMENT_SIZE))) as Y.Array<Uint8Array>
    return state.segment
  }

  #typeAt(client: number, clock: number): Y.AbstractType<unknown> {
    const item = Y.getItem(this.#doc.store, Y.createID(client, clock))
    if (!(item instanceof Y.Item) || !(item.content instanceof Y.ContentType)) {
      throw new YlogError(
        'MALFORMED_ENTRY',
        `the document has no segment array at client ${client} clock ${clock}; it does not follow the log layout`,
      )
    }
    return item.content.type
  }
}
