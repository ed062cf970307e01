import { decode, encode, rfc8949EncodeOptions } from 'cborg'
import { concatBytes, HASH_BYTES, sha256, toHex } from './bytes.js'
import { describe, validateBody, validateTopic, type ENTRY_KINDS } from './entry-body.js'
import { YlogError } from '../errors.js'
import { PUBLIC_KEY_BYTES, SIGNATURE_BYTES, type NodeId, type NodeIdentity } from './identity.js'

/*
 * Entry format: canonical CBOR (RFC 8949 core deterministic encoding,
 * produced by cborg) of an array, in one of two versions:
 *
 *   version 1 (9 elements):  [1, node: bstr(32), prev: bstr(32), seq: uint, at: uint,
 *                             topic: tstr, kind: tstr, data, sig: bstr(64)]
 *   version 2 (10 elements): [2, node, prev, seq, at, topic, kind, data, time: uint, sig]
 *
 * `at` is the node's append time (never decreasing within a node); `time`,
 * only in version 2, is when the event itself happened, as its producer
 * said, kept unchanged. An entry without `time` is written as version 1, so
 * entries of older nodes and new entries without an event time are the same
 * bytes.
 *
 * The fixed-width fields come first so the chain verifier can read node and
 * prev at fixed offsets without decoding the rest; both versions put them at
 * the same offsets. The signature covers SIGNING_DOMAIN followed by the same
 * array without its last element (its header byte one less: 0x88 for
 * version 1, 0x89 for version 2). An entry's hash is SHA-256 of all its
 * bytes, signature included, so a later signed entry vouches for earlier
 * signatures.
 */
export const ENTRY_FORMAT_VERSION = 1
/** The version of entries that carry an event `time`. */
export const ENTRY_FORMAT_VERSION_TIMED = 2
/** Largest encoded entry, signature included. */
export const MAX_ENTRY_BYTES = 64 * 1024

const SIGNING_DOMAIN = new TextEncoder().encode('ylog-entry-v1\n')
const NODE_OFFSET = 4
const PREV_OFFSET = NODE_OFFSET + PUBLIC_KEY_BYTES + 2
const SEQ_OFFSET = PREV_OFFSET + HASH_BYTES
const SIG_TAIL = SIGNATURE_BYTES + 2
// 0x89 array(9), 0x01 version, 0x58 0x20 bstr(32): the node field's header (0x8a, 0x02 for version 2).
const PREFIX = Uint8Array.of(0x89, ENTRY_FORMAT_VERSION, 0x58, 0x20)
const PREFIX_TIMED = Uint8Array.of(0x8a, ENTRY_FORMAT_VERSION_TIMED, 0x58, 0x20)
/** Widest CBOR uint of a safe integer: what seq and at may take, whatever their value. */
const MAX_UINT_BYTES = 9
const BSTR32 = Uint8Array.of(0x58, 0x20)
const BSTR64 = Uint8Array.of(0x58, 0x40)

export { ENTRY_KINDS, MAX_FIELD_LENGTH, MAX_TOPIC_LENGTH, TOPIC_PATTERN, validateBody, validateTopic } from './entry-body.js'

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue }
export type EntryKind = (typeof ENTRY_KINDS)[number]

/** A pipeline item moving between stages. */
export interface TransitionData {
  subject: string
  from: string
  to: string
  event: string
}

/** Events `from`..`to` (inclusive, logical ids of `stream`) were dropped before reaching the log. */
export interface GapData {
  stream: string
  from: number
  to: number
}

export type EntryBody = { kind: 'transition'; data: TransitionData } | { kind: 'event'; data: JsonValue } | { kind: 'gap'; data: GapData }

/**
 * What a writer supplies; the log fills in node, seq, prev and signature.
 * `at` asks for an append time (raised to the node's last `at`, since a
 * node's times never go back); `time` is when the event happened, stored as
 * given.
 */
export type EntryInput = EntryBody & { topic: string; at?: number; time?: number }

export type Entry = EntryBody & {
  node: NodeId
  seq: number
  /** Hex hash of this node's previous entry; 64 zeros at seq 0. */
  prev: string
  /** When this node appended it: milliseconds since the epoch; never decreases within one node. */
  at: number
  /** When the event happened, as its producer said (ms since the epoch); absent when it did not say. */
  time?: number
  topic: string
  sig: string
  hash: string
}

export interface EntryFields {
  seq: number
  prev: Uint8Array
  at: number
  topic: string
  body: EntryBody
  time?: number
}

/** Header fields read at fixed offsets; see `peekEntry`. */
export interface EntryHeader {
  node: Uint8Array
  prev: Uint8Array
  seq: number
  at: number
}

/** Encodes and signs one entry; `fields` must already be validated. */
export function signEntry(identity: NodeIdentity, fields: EntryFields): { bytes: Uint8Array; hash: Uint8Array } {
  return signEntryTail(identity, fields, encodeEntryTail(fields.topic, fields.body), fields.time)
}

/**
 * Refuses an entry that could exceed MAX_ENTRY_BYTES wherever it lands in
 * a chain: seq and at are counted at their widest. Checked before an entry
 * is queued or numbered, so a refused write leaves nothing behind; it is at
 * most 16 bytes stricter than the signer's own check.
 */
export function checkEntrySize(tail: Uint8Array, time?: number): void {
  const size = SEQ_OFFSET + 2 * MAX_UINT_BYTES + tail.byteLength + (time === undefined ? 0 : MAX_UINT_BYTES) + SIG_TAIL
  if (size > MAX_ENTRY_BYTES) throw tooLarge(size)
}

function tooLarge(size: number): YlogError {
  return new YlogError('ENTRY_TOO_LARGE', `entry encodes to ${size} bytes; the limit is ${MAX_ENTRY_BYTES} (make data smaller)`)
}

/**
 * The canonical encoding of topic, kind and data: the part of an entry that
 * does not depend on its place in the chain. Encoded once where the append
 * is validated, so the strictly sequential signing step only splices bytes.
 */
export function encodeEntryTail(topic: string, body: EntryBody): Uint8Array {
  // The elements of a canonical array are encoded one after the other; drop the array(3) header.
  return encode([topic, body.kind, body.data], rfc8949EncodeOptions).subarray(1)
}

/**
 * Signs an entry from its place in the chain, its encoded tail and its event
 * time, if any (version 2); the bytes are exactly `signEntry`'s.
 */
export function signEntryTail(
  identity: NodeIdentity,
  place: { seq: number; prev: Uint8Array; at: number },
  tail: Uint8Array,
  time?: number,
): { bytes: Uint8Array; hash: Uint8Array } {
  const seq = encodeUint(place.seq)
  const at = encodeUint(place.at)
  const timed = time === undefined ? undefined : encodeUint(time)
  const prefix = timed === undefined ? PREFIX : PREFIX_TIMED
  const tailAt = SEQ_OFFSET + seq.byteLength + at.byteLength
  const unsignedLength = tailAt + tail.byteLength + (timed?.byteLength ?? 0)
  if (unsignedLength + SIG_TAIL > MAX_ENTRY_BYTES) throw tooLarge(unsignedLength + SIG_TAIL)
  // Laid out once with room for the signature: the signed message is the domain and these bytes with the array header one less.
  const message = new Uint8Array(SIGNING_DOMAIN.byteLength + unsignedLength)
  message.set(SIGNING_DOMAIN, 0)
  const body = message.subarray(SIGNING_DOMAIN.byteLength)
  body.set(prefix, 0)
  body[0] = (prefix[0] as number) - 1
  body.set(identity.publicKey, NODE_OFFSET)
  body.set(BSTR32, PREV_OFFSET - 2)
  body.set(place.prev, PREV_OFFSET)
  body.set(seq, SEQ_OFFSET)
  body.set(at, SEQ_OFFSET + seq.byteLength)
  body.set(tail, tailAt)
  if (timed !== undefined) body.set(timed, tailAt + tail.byteLength)
  const sig = identity.sign(message)
  const bytes = new Uint8Array(unsignedLength + SIG_TAIL)
  bytes.set(body, 0)
  bytes[0] = prefix[0] as number
  bytes.set(BSTR64, unsignedLength)
  bytes.set(sig, unsignedLength + 2)
  return { bytes, hash: sha256(bytes) }
}

/** CBOR major type 0 in its shortest form (RFC 8949 preferred serialization), for safe integers. */
function encodeUint(n: number): Uint8Array {
  if (n < 24) return Uint8Array.of(n)
  if (n < 0x100) return Uint8Array.of(0x18, n)
  if (n < 0x10000) return Uint8Array.of(0x19, n >> 8, n & 0xff)
  if (n < 0x100000000) return Uint8Array.of(0x1a, n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff)
  const out = new Uint8Array(9)
  out[0] = 0x1b
  const view = new DataView(out.buffer)
  view.setUint32(1, Math.floor(n / 0x100000000))
  view.setUint32(5, n >>> 0)
  return out
}

/** The exact bytes an entry's signature covers. */
export function signedMessage(bytes: Uint8Array): Uint8Array {
  const body = bytes.subarray(0, bytes.byteLength - SIG_TAIL)
  const message = concatBytes(SIGNING_DOMAIN, body)
  message[SIGNING_DOMAIN.byteLength] = (bytes[0] as number) - 1
  return message
}

export function signatureOf(bytes: Uint8Array): Uint8Array {
  return bytes.subarray(bytes.byteLength - SIGNATURE_BYTES)
}

/**
 * Reads node, prev, seq and at from their fixed places without decoding the
 * entry: the fast path of chain verification. Returns undefined when the
 * bytes have neither version's layout; full validation is `decodeEntry`.
 */
export function peekEntry(bytes: Uint8Array): EntryHeader | undefined {
  if (bytes.byteLength < SEQ_OFFSET + 2 + SIG_TAIL || bytes.byteLength > MAX_ENTRY_BYTES) return undefined
  const prefix = bytes[0] === PREFIX_TIMED[0] ? PREFIX_TIMED : PREFIX
  for (let i = 0; i < prefix.length; i++) if (bytes[i] !== prefix[i]) return undefined
  if (bytes[PREV_OFFSET - 2] !== 0x58 || bytes[PREV_OFFSET - 1] !== 0x20) return undefined
  const tail = bytes.byteLength - SIG_TAIL
  if (bytes[tail] !== 0x58 || bytes[tail + 1] !== 0x40) return undefined
  const seq = readUint(bytes, SEQ_OFFSET)
  if (seq === undefined) return undefined
  const at = readUint(bytes, SEQ_OFFSET + seq.size)
  if (at === undefined) return undefined
  return {
    node: bytes.subarray(NODE_OFFSET, NODE_OFFSET + PUBLIC_KEY_BYTES),
    prev: bytes.subarray(PREV_OFFSET, PREV_OFFSET + HASH_BYTES),
    seq: seq.value,
    at: at.value,
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true })

/**
 * Reads topic and kind from behind `at` without decoding the entry: what a
 * filtered reader needs to skip entries cheaply. Undefined when the bytes
 * have neither version's layout.
 */
export function peekTopicKind(bytes: Uint8Array): { topic: string; kind: string } | undefined {
  const header = peekEntry(bytes)
  if (header === undefined) return undefined
  let at = SEQ_OFFSET + (readUint(bytes, SEQ_OFFSET)?.size ?? 0)
  at += readUint(bytes, at)?.size ?? 0
  const topic = readText(bytes, at)
  if (topic === undefined) return undefined
  const kind = readText(bytes, topic.end)
  if (kind === undefined) return undefined
  return { topic: topic.text, kind: kind.text }
}

function readText(bytes: Uint8Array, at: number): { text: string; end: number } | undefined {
  const length = readUint(bytes, at, 3)
  if (length === undefined || at + length.size + length.value > bytes.byteLength) return undefined
  const start = at + length.size
  try {
    return { text: utf8.decode(bytes.subarray(start, start + length.value)), end: start + length.value }
  } catch {
    return undefined
  }
}

const DECODE_OPTIONS = {
  strict: true,
  rejectDuplicateMapKeys: true,
  allowUndefined: false,
  allowInfinity: false,
  allowNaN: false,
  allowIndefinite: false,
  allowBigInt: false,
  useMaps: false,
} as const

/** Fully decodes and checks an entry's structure (not its signature or chain). */
export function decodeEntry(bytes: Uint8Array, hash: Uint8Array = sha256(bytes)): Entry {
  const { node, prev, seq, at, time, topic, body, sig } = checkEntry(bytes)
  const timed = time === undefined ? {} : { time }
  return { node: toHex(node), seq, prev: toHex(prev), at, ...timed, topic, ...body, sig: toHex(sig), hash: toHex(hash) } as Entry
}

/** The fields of an entry that passed `checkEntry`, undecorated: keys, hashes and the signature as bytes. */
export interface CheckedEntry {
  node: Uint8Array
  prev: Uint8Array
  seq: number
  at: number
  /** Version 2 only. */
  time?: number
  topic: string
  body: EntryBody
  sig: Uint8Array
}

/**
 * Everything `decodeEntry` checks, without building an Entry (no hash, no
 * hex strings): what the guard needs of each entry it receives, where the
 * chain check computes the hash itself.
 */
export function checkEntry(bytes: Uint8Array): CheckedEntry {
  if (peekEntry(bytes) === undefined) throw malformed('neither a version-1 nor a version-2 entry (bad header, size or signature field)')
  let value: unknown
  try {
    value = decode(bytes, DECODE_OPTIONS)
  } catch (err) {
    throw malformed(`not canonical CBOR: ${(err as Error).message}`)
  }
  if (!Array.isArray(value)) throw malformed('expected an array')
  const timed = value[0] === ENTRY_FORMAT_VERSION_TIMED
  if (value.length !== (timed ? 10 : 9)) throw malformed(`expected an array of ${timed ? 10 : 9} fields`)
  const [version, node, prev, seq, at, topic, kind, data] = value as unknown[]
  const sig: unknown = value[value.length - 1]
  const time: unknown = timed ? value[8] : undefined
  if (version !== ENTRY_FORMAT_VERSION && !timed) throw malformed(`unknown format version ${describe(version)}`)
  if (!isBytes(node, PUBLIC_KEY_BYTES) || !isBytes(prev, HASH_BYTES) || !isBytes(sig, SIGNATURE_BYTES))
    throw malformed('node, prev or sig has the wrong type or length')
  if (!Number.isSafeInteger(seq) || (seq as number) < 0) throw malformed(`seq ${describe(seq)} is not a non-negative integer`)
  if (!Number.isSafeInteger(at) || (at as number) < 0) throw malformed(`at ${describe(at)} is not a non-negative integer`)
  if (timed && (!Number.isSafeInteger(time) || (time as number) < 0))
    throw malformed(`time ${describe(time)} is not a non-negative integer`)
  let body: EntryBody
  try {
    validateTopic(topic)
    body = validateBody(kind, data)
  } catch (err) {
    throw malformed((err as Error).message)
  }
  return { node, prev, seq: seq as number, at: at as number, ...(timed ? { time: time as number } : {}), topic: topic as string, body, sig }
}

function malformed(reason: string): YlogError {
  return new YlogError('MALFORMED_ENTRY', `malformed entry: ${reason}`)
}

/** A CBOR head of major type `major` (0: uint, 3: text length) at `at`: its argument and its size. */
function readUint(bytes: Uint8Array, at: number, major = 0): { value: number; size: number } | undefined {
  const head = bytes[at]
  if (head === undefined || head >> 5 !== major) return undefined
  const info = head & 0x1f
  if (info < 24) return { value: info, size: 1 }
  const width = info === 24 ? 1 : info === 25 ? 2 : info === 26 ? 4 : info === 27 ? 8 : 0
  if (width === 0 || at + 1 + width > bytes.byteLength) return undefined
  let value = 0
  for (let i = 1; i <= width; i++) value = value * 256 + (bytes[at + i] as number)
  return Number.isSafeInteger(value) ? { value, size: 1 + width } : undefined
}

function isBytes(value: unknown, length: number): value is Uint8Array {
  return value instanceof Uint8Array && value.byteLength === length
}
