/*
 * Bounds on what one connection can make this node do or hold. Each one is
 * far above what an honest peer or stock client needs; see the README's
 * "Limits" and "Attacks covered" sections.
 */
import { MAX_UPDATE_CLIENTS } from '@ylog/core/internal'
import * as decoding from 'lib0/decoding'
import * as Y from 'yjs'

/** Bytes a connection may leave unsent (ws.bufferedAmount) before it is cut: it does not read what it is sent. */
export const DEFAULT_MAX_BUFFERED_BYTES = 16 * 1024 * 1024
/** A catch-up sends its next chunk only while less than this waits unsent, so a slow reader costs no more. */
export const CATCH_UP_BUFFER_BYTES = 2 * 1024 * 1024
/** Awareness client ids one connection may speak for (a stock client uses one). */
export const DEFAULT_MAX_AWARENESS_CLIENTS = 8
/** Bytes of one awareness state (its JSON); a cursor and a user name take well under 1 KiB. */
export const DEFAULT_MAX_AWARENESS_STATE_BYTES = 64 * 1024

/**
 * Is this the empty v1 update, the only update a connection that may not
 * write ever needs to send? (A fresh stock client answers our step 1 with
 * it: no structs, no deletions.) Anything else from such a connection is
 * refused without being decoded.
 */
export function isEmptyUpdate(update: Uint8Array): boolean {
  return update.byteLength === 2 && update[0] === 0 && update[1] === 0
}

/**
 * A sync step 1's state vector, or undefined when it does not decode or
 * names more clients than any update may (a 16 MiB frame of them would
 * otherwise build a map of millions of entries).
 */
export function readStateVector(bytes: Uint8Array): Map<number, number> | undefined {
  try {
    if (decoding.readVarUint(decoding.createDecoder(bytes)) > MAX_UPDATE_CLIENTS) return undefined
    return Y.decodeStateVector(bytes)
  } catch {
    return undefined
  }
}
