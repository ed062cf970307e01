import * as encoding from 'lib0/encoding'
import * as Y from 'yjs'
import { YlogError } from '../errors.js'
import { ScanRefusal, scanUpdate } from './update-scan.js'

type Struct = Y.Item | Y.GC | Y.Skip
type DeleteSet = ReadonlyMap<number, ReadonlyArray<{ clock: number; len: number }>>

/**
 * Cuts a v1 update into one standalone v1 update per Yjs client (= per
 * node), keyed by client id.
 *
 * Why: the guard decides an update whole, and a peer relays other nodes'
 * entries in the same update as its own. When one writer in it is one this
 * node does not accept (not a member here), refusing everything would also
 * refuse the entries of every writer it does accept, on every resend. Split,
 * each writer's part can be decided on its own.
 *
 * The pieces hold exactly the structs of the input, written the way
 * encodeDiffChunks writes its runs (gaps kept as Skip structs). A delete set
 * cannot be attributed safely (it may name clients whose structs are in
 * other pieces), so every piece carries the whole of it: splitting an update
 * that deletes yields only pieces that delete, and the guard refuses each of
 * them as 'delete'. Clients named only in the delete set get a piece too.
 *
 * Throws YlogError BAD_ARGUMENT for updates that do not decode, whose shape
 * the guard's scan refuses as malformed (a client named twice, above all:
 * Y.decodeUpdate would join its groups, Y.applyUpdate keeps only the last),
 * or whose structs for one client are not in ascending, non-overlapping
 * order (no honest encoder writes them; the guard refuses them whole).
 */
export function splitUpdateByClient(update: Uint8Array): Map<number, Uint8Array> {
  let decoded: { structs: Struct[]; ds: { clients: Map<number, Array<{ clock: number; len: number }>> } }
  try {
    scanUpdate(update)
  } catch (err) {
    // Content the guard refuses is split as it is (each piece is refused again); a shape Yjs reads otherwise is not.
    if (!(err instanceof ScanRefusal) || err.reason === 'malformed-update') {
      throw new YlogError('BAD_ARGUMENT', (err as Error).message, { cause: err })
    }
  }
  try {
    decoded = Y.decodeUpdate(update) as unknown as typeof decoded
  } catch (err) {
    throw new YlogError('BAD_ARGUMENT', `update does not decode: ${(err as Error).message}`, { cause: err })
  }
  const byClient = new Map<number, Struct[]>()
  for (const struct of decoded.structs) {
    const list = byClient.get(struct.id.client)
    if (list === undefined) {
      byClient.set(struct.id.client, [struct])
      continue
    }
    const last = list[list.length - 1] as Struct
    if (struct.id.clock !== last.id.clock + last.length) {
      throw new YlogError(
        'BAD_ARGUMENT',
        `client ${struct.id.client}: struct at clock ${struct.id.clock} does not follow clock ${last.id.clock + last.length - 1}`,
      )
    }
    list.push(struct)
  }
  for (const client of decoded.ds.clients.keys()) if (!byClient.has(client)) byClient.set(client, [])

  const pieces = new Map<number, Uint8Array>()
  for (const [client, structs] of byClient) pieces.set(client, encodeStructGroups([structs], decoded.ds.clients))
  return pieces
}

/**
 * Writes structs as a v1 update with one group per list, in the given order,
 * each starting at its first struct's clock (empty lists are left out), and
 * the delete set `ds`. It writes what it is given: several lists of one
 * client make an update the guard refuses, which is how tests build one.
 */
export function encodeStructGroups(groups: ReadonlyArray<readonly Struct[]>, ds: DeleteSet = new Map()): Uint8Array {
  const encoder = new Y.UpdateEncoderV1()
  const written = groups.filter((structs) => structs.length > 0)
  encoding.writeVarUint(encoder.restEncoder, written.length)
  for (const structs of written) {
    const first = structs[0] as Struct
    encoding.writeVarUint(encoder.restEncoder, structs.length)
    encoder.writeClient(first.id.client)
    encoding.writeVarUint(encoder.restEncoder, first.id.clock)
    for (const struct of structs) struct.write(encoder, 0)
  }
  // The delete set as Yjs writes it (v1: plain varUints per client and range).
  encoding.writeVarUint(encoder.restEncoder, ds.size)
  for (const [dsClient, ranges] of ds) {
    encoder.resetDsCurVal()
    encoding.writeVarUint(encoder.restEncoder, dsClient)
    encoding.writeVarUint(encoder.restEncoder, ranges.length)
    for (const range of ranges) {
      encoder.writeDsClock(range.clock)
      encoder.writeDsLen(range.len)
    }
  }
  return encoder.toUint8Array()
}
