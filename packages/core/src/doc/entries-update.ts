import * as encoding from 'lib0/encoding'
import { clientIdOf, isNodeId, type NodeId } from '../entry/identity.js'
import { YlogError } from '../errors.js'
import { entryClock, ROOT_MAP, SEGMENT_SIZE, segmentClock } from './layout.js'

// Yjs v1 item info bits and content refs, as Item.write encodes them (update-scan.ts reads the same).
const HAS_ORIGIN = 0x80
const HAS_PARENT_SUB = 0x20
const CONTENT_BINARY = 3
const CONTENT_TYPE = 7
const Y_ARRAY = 0

/**
 * The Yjs update (v1) that appends `entries`, the signed bytes of one
 * node's entries with seqs `fromSeq`, `fromSeq + 1`, …, to that node's part
 * of the log, in the layout of layout.ts: exactly the structs the node's
 * own writer produced for them (its segments array when `fromSeq` is 0, a
 * segment every SEGMENT_SIZE entries), so a receiver holding the node's
 * entries below `fromSeq` applies it, and one holding some of these
 * already finds them byte-identical.
 *
 * For moving signed entries without their document (an export file, a
 * backup): the update goes through LogDoc.applyRemote / DurableLog.applyRemote,
 * whose guard verifies every entry as it does for sync. The bytes are not
 * checked here; built from forged bytes, the update is refused there.
 * Written directly rather than through a Y.Doc, which would need the node's
 * earlier structs to hang the first one on.
 */
export function encodeEntriesUpdate(node: NodeId, fromSeq: number, entries: readonly Uint8Array[]): Uint8Array {
  if (!isNodeId(node)) throw new YlogError('BAD_ARGUMENT', `${JSON.stringify(node)} is not a node id`)
  if (!Number.isSafeInteger(fromSeq) || fromSeq < 0) {
    throw new YlogError('BAD_ARGUMENT', `fromSeq must be a non-negative integer, got ${fromSeq}`)
  }
  const client = clientIdOf(node)
  const e = encoding.createEncoder()
  if (entries.length === 0) {
    encoding.writeVarUint(e, 0)
    encoding.writeVarUint(e, 0)
    return encoding.toUint8Array(e)
  }
  const opensSegment = fromSeq % SEGMENT_SIZE === 0
  const firstClock = fromSeq === 0 ? 0 : opensSegment ? segmentClock(fromSeq / SEGMENT_SIZE) : entryClock(fromSeq)
  const last = fromSeq + entries.length - 1
  const structs = entryClock(last) + 1 - firstClock
  encoding.writeVarUint(e, 1)
  encoding.writeVarUint(e, structs)
  encoding.writeVarUint(e, client)
  encoding.writeVarUint(e, firstClock)
  if (fromSeq === 0) {
    // The node's segments array: a root-map entry keyed by the node id.
    encoding.writeUint8(e, CONTENT_TYPE | HAS_PARENT_SUB)
    encoding.writeVarUint(e, 1)
    encoding.writeVarString(e, ROOT_MAP)
    encoding.writeVarString(e, node)
    encoding.writeVarUint(e, Y_ARRAY)
  }
  for (let i = 0; i < entries.length; i++) {
    const seq = fromSeq + i
    const segment = Math.floor(seq / SEGMENT_SIZE)
    if (seq % SEGMENT_SIZE === 0) {
      // A new segment goes at the end of the segments array: after the last segment, or as its first item.
      if (segment === 0) {
        encoding.writeUint8(e, CONTENT_TYPE)
        encoding.writeVarUint(e, 0)
        writeId(e, client, 0)
      } else {
        encoding.writeUint8(e, CONTENT_TYPE | HAS_ORIGIN)
        writeId(e, client, segmentClock(segment - 1))
      }
      encoding.writeVarUint(e, Y_ARRAY)
      encoding.writeUint8(e, CONTENT_BINARY)
      encoding.writeVarUint(e, 0)
      writeId(e, client, segmentClock(segment))
    } else {
      encoding.writeUint8(e, CONTENT_BINARY | HAS_ORIGIN)
      writeId(e, client, entryClock(seq) - 1)
    }
    encoding.writeVarUint8Array(e, entries[i] as Uint8Array)
  }
  encoding.writeVarUint(e, 0)
  return encoding.toUint8Array(e)
}

function writeId(e: encoding.Encoder, client: number, clock: number): void {
  encoding.writeVarUint(e, client)
  encoding.writeVarUint(e, clock)
}
