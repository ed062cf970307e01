import * as encoding from 'lib0/encoding'
import * as Y from 'yjs'

/**
 * The part of `doc` a peer with state vector `stateVector` lacks, as a list
 * of updates of at most about `maxBytes` each, to be applied in order.
 *
 * Y.encodeStateAsUpdate answers with one update however large; a peer that
 * was away for 100k entries would need a 50 MB frame. Every struct in the
 * log is an item of length 1 (layout.ts), so a client's structs can be cut
 * anywhere: each chunk is a normal v1 update holding one client's run of
 * structs and an empty delete set, written the way Yjs writes its own.
 * Nothing to send is one empty update.
 *
 * With `upTo`, only structs below upTo.get(client) are sent (none of a
 * client it does not name): how a durable log leaves out what it has not
 * committed yet.
 */
export function encodeDiffChunks(
  doc: Y.Doc,
  stateVector: Uint8Array | undefined,
  maxBytes: number,
  upTo?: ReadonlyMap<number, number>,
  format: 'v1' | 'v2' = 'v1',
): Uint8Array[] {
  const theirs = stateVector === undefined ? new Map<number, number>() : Y.decodeStateVector(stateVector)
  const chunks: Uint8Array[] = []
  const clients = [...doc.store.clients.entries()].sort(([a], [b]) => b - a)
  for (const [client, structs] of clients) {
    const from = theirs.get(client) ?? 0
    const last = structs[structs.length - 1]
    const bound = upTo === undefined ? Number.POSITIVE_INFINITY : (upTo.get(client) ?? 0)
    if (last === undefined || last.id.clock + last.length <= from || bound <= from) continue
    let start = Y.findIndexSS(structs, Math.max(from, (structs[0] as Y.Item | Y.GC).id.clock))
    // Every struct has length 1, so the first one at or past the bound ends the run.
    const stop = bound > last.id.clock ? structs.length : Y.findIndexSS(structs, bound)
    while (start < stop) {
      let end = start
      let size = 0
      do {
        size += sizeOf(structs[end] as Y.Item | Y.GC)
        end++
      } while (end < stop && size < maxBytes)
      chunks.push(
        writeRun(
          format === 'v2' ? new Y.UpdateEncoderV2() : new Y.UpdateEncoderV1(),
          client,
          structs,
          start,
          end,
          Math.max(from, (structs[start] as Y.Item | Y.GC).id.clock),
        ),
      )
      start = end
    }
  }
  // An empty answer is still an answer: sync clients wait for a step 2 to call themselves synced.
  if (chunks.length === 0) chunks.push(format === 'v2' ? Y.encodeStateAsUpdateV2(new Y.Doc()) : Y.encodeStateAsUpdate(new Y.Doc()))
  return chunks
}

// Yjs writes v1 and v2 updates with the same calls (writeStructs in its encoding.js); only the encoder differs.
function writeRun(
  encoder: Y.UpdateEncoderV1 | Y.UpdateEncoderV2,
  client: number,
  structs: Array<Y.Item | Y.GC>,
  start: number,
  end: number,
  clock: number,
): Uint8Array {
  encoding.writeVarUint(encoder.restEncoder, 1) // one client
  encoding.writeVarUint(encoder.restEncoder, end - start)
  encoder.writeClient(client)
  encoding.writeVarUint(encoder.restEncoder, clock)
  const first = structs[start] as Y.Item | Y.GC
  first.write(encoder, clock - first.id.clock)
  for (let i = start + 1; i < end; i++) (structs[i] as Y.Item | Y.GC).write(encoder, 0)
  encoding.writeVarUint(encoder.restEncoder, 0) // empty delete set
  return encoder.toUint8Array()
}

function sizeOf(struct: Y.Item | Y.GC): number {
  if (struct instanceof Y.Item && struct.content instanceof Y.ContentBinary) return struct.content.content.byteLength + 16
  return 64
}
