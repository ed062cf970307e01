import * as decoding from 'lib0/decoding'
import { ROOT_MAP } from './layout.js'
import type { RefusalReason } from './update-guard.js'

/*
 * A Yjs v1 update is
 *
 *   varUint groups, then per group: varUint structs, varUint client, varUint clock, structs
 *   varUint delete-set clients, then per client: varUint client, varUint ranges, ranges
 *
 * Two readers of those bytes disagree where it matters to a guard:
 * Y.decodeUpdate returns the structs of every group, while Y.applyUpdate
 * keeps one group per client (the last one read), so an update naming a
 * client twice is checked one way and applied another. And both build an
 * object per struct before anyone can look at them, which makes a frame of
 * millions of tiny structs cost seconds and hundreds of MB.
 *
 * scanUpdate reads the bytes once, allocating nothing per struct, and
 * refuses what no writer of the log produces before either reader runs:
 * a client named twice, deletions and GC structs, content other than the
 * log's (binary entries and array types), entries too short to be one,
 * and more skip or type structs than the layout can explain. What passes
 * is read the same way by both readers, and decodes to at most about one
 * object per entry-sized run of bytes.
 */

/** The smallest valid entry: a version-1 array with one-byte seq, at, topic and null data ("event") is 147 bytes. */
export const MIN_ENTRY_BYTES = 147
/** More clients in one update than any cluster has nodes; bounds the per-client bookkeeping of a scan. */
export const MAX_UPDATE_CLIENTS = 4096

export interface ScannedGroup {
  client: number
  /** Clock of the group's first struct. */
  clock: number
  /** Clock after its last struct that is not a skip. */
  end: number
  structs: number
}

export interface UpdateScan {
  groups: ScannedGroup[]
  /** Binary items (entries, new or known). */
  entries: number
  structs: number
}

/** Why an update was refused by the scan; `reason` is the guard's. */
export class ScanRefusal extends Error {
  constructor(
    readonly reason: RefusalReason,
    readonly detail: string,
  ) {
    super(detail)
    this.name = 'ScanRefusal'
  }
}

const ROOT_KEY = new TextEncoder().encode(ROOT_MAP)
// Item info bits, as Yjs writes them.
const HAS_ORIGIN = 0x80
const HAS_RIGHT_ORIGIN = 0x40
const HAS_PARENT_SUB = 0x20
const CONTENT_REF = 0x1f
const SKIP = 10
const CONTENT_BINARY = 3
const CONTENT_TYPE = 7
const TYPE_XML_ELEMENT = 3
const TYPE_XML_HOOK = 5
const TYPE_XML_TEXT = 6

/** Reads a v1 update's shape; throws ScanRefusal for anything the guard refuses on shape alone. */
export function scanUpdate(update: Uint8Array): UpdateScan {
  const d = decoding.createDecoder(update)
  try {
    return scan(d)
  } catch (err) {
    if (err instanceof ScanRefusal) throw err
    // lib0 throws plain Errors for reads past the end and overlong varUints.
    throw new ScanRefusal('malformed-update', `update does not decode: ${(err as Error).message}`)
  }
}

function scan(d: decoding.Decoder): UpdateScan {
  const groupCount = decoding.readVarUint(d)
  if (groupCount > MAX_UPDATE_CLIENTS) throw malformed(`update names ${groupCount} clients; at most ${MAX_UPDATE_CLIENTS} are taken`)
  const groups: ScannedGroup[] = []
  const seen = new Set<number>()
  let entries = 0
  let types = 0
  let skips = 0
  let structs = 0
  for (let g = 0; g < groupCount; g++) {
    const count = decoding.readVarUint(d)
    const client = decoding.readVarUint(d)
    const clock = decoding.readVarUint(d)
    // Y.applyUpdate keeps only the last group of a client; Y.decodeUpdate returns all of them.
    if (seen.has(client)) throw malformed(`update names client ${client} twice; Yjs would apply only its last group`)
    seen.add(client)
    const group: ScannedGroup = { client, clock, end: clock, structs: count }
    let at = clock
    for (let i = 0; i < count; i++) {
      if (d.pos >= d.arr.length) throw new ScanRefusal('malformed-update', `update ends inside client ${client}'s structs`)
      const info = decoding.readUint8(d)
      structs++
      if (info === SKIP) {
        if (++skips > groups.length + 1) throw malformed('more skip structs than clients; no writer of the log sends them')
        at += decoding.readVarUint(d)
        continue
      }
      const ref = info & CONTENT_REF
      if (ref === 0) throw new ScanRefusal('delete', `client ${client} clock ${at}: a GC struct stands for deleted content`)
      readItemHeader(d, info, client, at)
      if (ref === CONTENT_BINARY) {
        const length = skipBytes(d)
        if (length < MIN_ENTRY_BYTES) throw new ScanRefusal('bad-entry', `client ${client} clock ${at}: ${length} bytes are no entry`)
        entries++
      } else if (ref === CONTENT_TYPE) {
        readTypeRef(d, client, at)
        // The layout's arrays: one per node, and one segment per 512 entries (see layout.ts).
        if (++types > 2 * (groups.length + 1) + Math.floor(entries / 256)) {
          throw new ScanRefusal('foreign-structure', `client ${client} clock ${at}: more arrays than the log's layout has`)
        }
      } else {
        throw new ScanRefusal('foreign-structure', `client ${client} clock ${at}: content of type ${ref}; the log holds binaries in arrays`)
      }
      at += 1
      group.end = at
    }
    groups.push(group)
  }
  readDeleteSet(d)
  return { groups, entries, structs }
}

const malformed = (detail: string): ScanRefusal => new ScanRefusal('malformed-update', detail)

function readItemHeader(d: decoding.Decoder, info: number, client: number, clock: number): void {
  if ((info & HAS_ORIGIN) !== 0) readId(d)
  if ((info & HAS_RIGHT_ORIGIN) !== 0) readId(d)
  if ((info & (HAS_ORIGIN | HAS_RIGHT_ORIGIN)) !== 0) return
  // No origin: the parent follows, a root type's name or an item's ID.
  if (decoding.readVarUint(d) === 1) {
    // Y.applyUpdate creates a root type of any name it reads, even for a struct it then ignores.
    const length = skipBytes(d)
    const start = d.pos - length
    if (length !== ROOT_KEY.length || !ROOT_KEY.every((byte, i) => d.arr[start + i] === byte)) {
      throw new ScanRefusal('foreign-structure', `client ${client} clock ${clock}: a parent other than the "${ROOT_MAP}" map`)
    }
  } else {
    readId(d)
  }
  if ((info & HAS_PARENT_SUB) !== 0) skipBytes(d)
}

function readTypeRef(d: decoding.Decoder, client: number, clock: number): void {
  const typeRef = decoding.readVarUint(d)
  if (typeRef > TYPE_XML_TEXT) throw new ScanRefusal('malformed-update', `client ${client} clock ${clock}: unknown type ${typeRef}`)
  if (typeRef === TYPE_XML_ELEMENT || typeRef === TYPE_XML_HOOK) skipBytes(d)
}

function readId(d: decoding.Decoder): void {
  decoding.readVarUint(d)
  decoding.readVarUint(d)
}

/** Skips a varUint-prefixed byte string, within the update's own bytes (lib0 would read past a subarray's end). */
function skipBytes(d: decoding.Decoder): number {
  const length = decoding.readVarUint(d)
  if (length > d.arr.length - d.pos) throw new ScanRefusal('malformed-update', `a length of ${length} runs past the end of the update`)
  d.pos += length
  return length
}

function readDeleteSet(d: decoding.Decoder): void {
  const clients = decoding.readVarUint(d)
  if (clients > MAX_UPDATE_CLIENTS) throw new ScanRefusal('malformed-update', `delete set names ${clients} clients`)
  for (let i = 0; i < clients; i++) {
    const client = decoding.readVarUint(d)
    if (decoding.readVarUint(d) > 0) throw new ScanRefusal('delete', `update deletes structs of client ${client}; the log is grow-only`)
  }
}
