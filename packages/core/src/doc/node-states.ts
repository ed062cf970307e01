import * as Y from 'yjs'
import { ZERO_HASH } from '../entry/bytes.js'
import { clientIdOf, type NodeId } from '../entry/identity.js'
import { YlogError } from '../errors.js'
import { entryClock, segmentClock, SEGMENT_SIZE } from './layout.js'
import type { NodeHead } from './update-guard.js'

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
      state = { node, publicKey: new Uint8Array(Buffer.from(node, 'hex')), client: clientIdOf(node), next: 0, hash: ZERO_HASH, at: 0, segments: undefined, segment: undefined }
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
    return [...this.#nodes.values()].filter((s) => s.next > 0).map((s) => s.node).sort()
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
      throw new YlogError('MALFORMED_ENTRY', `the document has no segment array at client ${client} clock ${clock}; it does not follow the log layout`)
    }
    return item.content.type
  }
}
