import * as Y from 'yjs'
import type { Cursor } from '../entry/cursor.js'
import { decodeEntry, type Entry } from '../entry/entry.js'
import type { NodeId } from '../entry/identity.js'
import { YlogError } from '../errors.js'
import { readAfter, readAll, readMerged, readRange } from './reads.js'

/**
 * The reads every log answers from three primitives (a node's length, an
 * entry's bytes, the nodes): LogDoc implements those over its document.
 */
export abstract class LogView {
  /** The Yjs document the log lives in. */
  abstract readonly doc: Y.Doc

  abstract getBytes(node: NodeId, seq: number): Uint8Array | undefined

  /** Number of entries held for a node. */
  abstract length(node: NodeId): number

  /** Known nodes with entries, sorted by id. */
  abstract nodes(): NodeId[]

  get(node: NodeId, seq: number): Entry | undefined {
    const bytes = this.getBytes(node, seq)
    return bytes === undefined ? undefined : decodeEntry(bytes)
  }

  /** One node's entries with from <= seq < to. */
  range(node: NodeId, from?: number, to?: number): Entry[] {
    return [...readRange(this, node, from, to)]
  }

  /** All entries in (node, seq) order. */
  entries(): IterableIterator<Entry> {
    return readAll(this)
  }

  /** All entries with at >= since in (at, node, seq) order. */
  merged(since?: number): IterableIterator<Entry> {
    return readMerged(this, since)
  }

  /** The Yjs clock a client (a node's writer) has reached in the document. */
  clockOf(client: number): number {
    return Y.getState(this.doc.store, client)
  }

  /** The document's Yjs state vector (what a sync step 1 sends). */
  stateVector(): Uint8Array {
    return Y.encodeStateVector(this.doc)
  }

  /** The whole document in Yjs's v2 encoding: compact, and about twice as fast to load. */
  encodeSnapshot(): Uint8Array {
    return Y.encodeStateAsUpdateV2(this.doc)
  }

  /** Up to `limit` entries after a version-vector cursor, and the cursor to resume from. */
  entriesAfter(cursor: Cursor, limit: number): { entries: Entry[]; next: Cursor } {
    if (!Number.isSafeInteger(limit) || limit < 1) throw new YlogError('BAD_ARGUMENT', `limit must be a positive integer, got ${limit}`)
    return readAfter(this, cursor, limit)
  }
}
