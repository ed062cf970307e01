import { decode, encode, rfc8949EncodeOptions } from 'cborg'
import { concatBytes, HASH_BYTES, sha256, toHex } from './bytes.js'
import { YlogError } from './errors.js'
import { PUBLIC_KEY_BYTES, SIGNATURE_BYTES, type NodeId, type NodeIdentity } from './identity.js'

/*
 * Entry format, version 1: canonical CBOR (RFC 8949 core deterministic
 * encoding, produced by cborg) of a 9-element array
 *
 *   [1, node: bstr(32), prev: bstr(32), seq: uint, at: uint,
 *    topic: tstr, kind: tstr, data, sig: bstr(64)]
 *
 * The fixed-width fields come first so the chain verifier can read node and
 * prev at fixed offsets without decoding the rest. The signature covers
 * SIGNING_DOMAIN followed by the same array without its last element (header
 * byte 0x88 instead of 0x89). An entry's hash is SHA-256 of all its bytes,
 * signature included, so a later signed entry vouches for earlier signatures.
 */
export const ENTRY_FORMAT_VERSION = 1
/** Largest encoded entry, signature included. */
export const MAX_ENTRY_BYTES = 64 * 1024
export const MAX_TOPIC_LENGTH = 128
/** Topic characters: letters, digits and . _ : / - ; the first one alphanumeric. */
export const TOPIC_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:/-]*$/
export const MAX_FIELD_LENGTH = 1024
const MAX_DATA_DEPTH = 64

const SIGNING_DOMAIN = new TextEncoder().encode('ylog-entry-v1\n')
const NODE_OFFSET = 4
const PREV_OFFSET = NODE_OFFSET + PUBLIC_KEY_BYTES + 2
const SEQ_OFFSET = PREV_OFFSET + HASH_BYTES
const SIG_TAIL = SIGNATURE_BYTES + 2
// 0x89 array(9), 0x01 version, 0x58 0x20 bstr(32): the node field's header.
const PREFIX = Uint8Array.of(0x89, ENTRY_FORMAT_VERSION, 0x58, 0x20)
const BSTR32 = Uint8Array.of(0x58, 0x20)
const BSTR64 = Uint8Array.of(0x58, 0x40)

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue }
export const ENTRY_KINDS = ['transition', 'event', 'gap'] as const
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

export type EntryBody =
  | { kind: 'transition'; data: TransitionData }
  | { kind: 'event'; data: JsonValue }
  | { kind: 'gap'; data: GapData }

/** What a writer supplies; the log fills in node, seq, prev and signature. */
export type EntryInput = EntryBody & { topic: string; at?: number }

export type Entry = EntryBody & {
  node: NodeId
  seq: number
  /** Hex hash of this node's previous entry; 64 zeros at seq 0. */
  prev: string
  /** Milliseconds since the epoch; never decreases within one node. */
  at: number
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
}

/** Header fields read at fixed offsets; see `peekEntry`. */
export interface EntryHeader {
  node: Uint8Array
  prev: Uint8Array
  seq: number
  at: number
}

export function validateTopic(topic: unknown): asserts topic is string {
  if (typeof topic !== 'string' || topic.length === 0) {
    throw new YlogError('BAD_TOPIC', `topic must be a non-empty string, got ${describe(topic)}`)
  }
  if (topic.length > MAX_TOPIC_LENGTH) {
    throw new YlogError('BAD_TOPIC', `topic is ${topic.length} characters; the limit is ${MAX_TOPIC_LENGTH}`)
  }
  if (!TOPIC_PATTERN.test(topic)) {
    throw new YlogError('BAD_TOPIC', `topic ${JSON.stringify(topic)} has characters outside [A-Za-z0-9._:/-] or does not start with a letter or digit`)
  }
}

/** Checks a kind and its data; returns a body holding only the allowed fields. */
export function validateBody(kind: unknown, data: unknown): EntryBody {
  switch (kind) {
    case 'transition': {
      const d = requireRecord(data, 'transition data')
      for (const field of ['subject', 'from', 'to', 'event'] as const) requireText(d[field], `transition data.${field}`)
      const extra = Object.keys(d).filter((k) => !['subject', 'from', 'to', 'event'].includes(k))
      if (extra.length > 0) throw new YlogError('BAD_DATA', `transition data has unknown field(s) ${extra.join(', ')}; allowed: subject, from, to, event`)
      return { kind, data: { subject: d.subject as string, from: d.from as string, to: d.to as string, event: d.event as string } }
    }
    case 'gap': {
      const d = requireRecord(data, 'gap data')
      requireText(d.stream, 'gap data.stream')
      const from = requireCount(d.from, 'gap data.from')
      const to = requireCount(d.to, 'gap data.to')
      if (from > to) throw new YlogError('BAD_DATA', `gap data.from (${from}) is after gap data.to (${to})`)
      const extra = Object.keys(d).filter((k) => !['stream', 'from', 'to'].includes(k))
      if (extra.length > 0) throw new YlogError('BAD_DATA', `gap data has unknown field(s) ${extra.join(', ')}; allowed: stream, from, to`)
      return { kind, data: { stream: d.stream as string, from, to } }
    }
    case 'event':
      checkJson(data, 'data', 0)
      return { kind, data: data as JsonValue }
    default:
      throw new YlogError('BAD_KIND', `kind must be one of ${ENTRY_KINDS.join(', ')}, got ${describe(kind)}`)
  }
}

/** Encodes and signs one entry; `fields` must already be validated. */
export function signEntry(identity: NodeIdentity, fields: EntryFields): { bytes: Uint8Array; hash: Uint8Array } {
  return signEntryTail(identity, fields, encodeEntryTail(fields.topic, fields.body))
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

/** Signs an entry from its place in the chain and its encoded tail; the bytes are exactly `signEntry`'s. */
export function signEntryTail(identity: NodeIdentity, place: { seq: number; prev: Uint8Array; at: number }, tail: Uint8Array): { bytes: Uint8Array; hash: Uint8Array } {
  const seq = encodeUint(place.seq)
  const at = encodeUint(place.at)
  const unsignedLength = SEQ_OFFSET + seq.byteLength + at.byteLength + tail.byteLength
  if (unsignedLength + SIG_TAIL > MAX_ENTRY_BYTES) {
    throw new YlogError('ENTRY_TOO_LARGE', `entry encodes to ${unsignedLength + SIG_TAIL} bytes; the limit is ${MAX_ENTRY_BYTES} (make data smaller)`)
  }
  // Laid out once with room for the signature: the signed message is the domain and these bytes with header 0x88.
  const message = new Uint8Array(SIGNING_DOMAIN.byteLength + unsignedLength)
  message.set(SIGNING_DOMAIN, 0)
  const body = message.subarray(SIGNING_DOMAIN.byteLength)
  body.set(PREFIX, 0)
  body[0] = 0x88
  body.set(identity.publicKey, NODE_OFFSET)
  body.set(BSTR32, PREV_OFFSET - 2)
  body.set(place.prev, PREV_OFFSET)
  body.set(seq, SEQ_OFFSET)
  body.set(at, SEQ_OFFSET + seq.byteLength)
  body.set(tail, SEQ_OFFSET + seq.byteLength + at.byteLength)
  const sig = identity.sign(message)
  const bytes = new Uint8Array(unsignedLength + SIG_TAIL)
  bytes.set(body, 0)
  bytes[0] = 0x89
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
  message[SIGNING_DOMAIN.byteLength] = 0x88
  return message
}

export function signatureOf(bytes: Uint8Array): Uint8Array {
  return bytes.subarray(bytes.byteLength - SIGNATURE_BYTES)
}

/**
 * Reads node, prev, seq and at from their fixed places without decoding the
 * entry: the fast path of chain verification. Returns undefined when the
 * bytes do not have the version-1 layout; full validation is `decodeEntry`.
 */
export function peekEntry(bytes: Uint8Array): EntryHeader | undefined {
  if (bytes.byteLength < SEQ_OFFSET + 2 + SIG_TAIL || bytes.byteLength > MAX_ENTRY_BYTES) return undefined
  for (let i = 0; i < PREFIX.length; i++) if (bytes[i] !== PREFIX[i]) return undefined
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
 * filtered reader needs to skip entries cheaply. Undefined when the bytes do
 * not have the version-1 layout.
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
  const { node, prev, seq, at, topic, body, sig } = checkEntry(bytes)
  return { node: toHex(node), seq, prev: toHex(prev), at, topic, ...body, sig: toHex(sig), hash: toHex(hash) } as Entry
}

/** The fields of an entry that passed `checkEntry`, undecorated: keys, hashes and the signature as bytes. */
export interface CheckedEntry {
  node: Uint8Array
  prev: Uint8Array
  seq: number
  at: number
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
  if (peekEntry(bytes) === undefined) throw malformed('not a version-1 entry (bad header, size or signature field)')
  let value: unknown
  try {
    value = decode(bytes, DECODE_OPTIONS)
  } catch (err) {
    throw malformed(`not canonical CBOR: ${(err as Error).message}`)
  }
  if (!Array.isArray(value) || value.length !== 9) throw malformed('expected an array of 9 fields')
  const [version, node, prev, seq, at, topic, kind, data, sig] = value as unknown[]
  if (version !== ENTRY_FORMAT_VERSION) throw malformed(`unknown format version ${describe(version)}`)
  if (!isBytes(node, PUBLIC_KEY_BYTES) || !isBytes(prev, HASH_BYTES) || !isBytes(sig, SIGNATURE_BYTES)) throw malformed('node, prev or sig has the wrong type or length')
  if (!Number.isSafeInteger(seq) || (seq as number) < 0) throw malformed(`seq ${describe(seq)} is not a non-negative integer`)
  if (!Number.isSafeInteger(at) || (at as number) < 0) throw malformed(`at ${describe(at)} is not a non-negative integer`)
  let body: EntryBody
  try {
    validateTopic(topic)
    body = validateBody(kind, data)
  } catch (err) {
    throw malformed((err as Error).message)
  }
  return { node, prev, seq: seq as number, at: at as number, topic: topic as string, body, sig }
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

function requireRecord(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new YlogError('BAD_DATA', `${what} must be an object, got ${describe(value)}`)
  }
  return value as Record<string, unknown>
}

function requireText(value: unknown, what: string): void {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_FIELD_LENGTH) {
    throw new YlogError('BAD_DATA', `${what} must be a string of 1 to ${MAX_FIELD_LENGTH} characters, got ${describe(value)}`)
  }
}

function requireCount(value: unknown, what: string): number {
  if (!Number.isSafeInteger(value) || (value as number) < 0) {
    throw new YlogError('BAD_DATA', `${what} must be a non-negative integer, got ${describe(value)}`)
  }
  return value as number
}

function checkJson(value: unknown, path: string, depth: number): void {
  if (depth > MAX_DATA_DEPTH) throw new YlogError('BAD_DATA', `${path} is nested deeper than ${MAX_DATA_DEPTH} levels`)
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return
    case 'number':
      if (!Number.isFinite(value)) throw new YlogError('BAD_DATA', `${path} is ${value}; JSON numbers must be finite`)
      if (Number.isInteger(value) && !Number.isSafeInteger(value)) {
        throw new YlogError('BAD_DATA', `${path} is ${value}; integers must lie within ±(2^53 - 1) (send larger ones as strings)`)
      }
      return
    case 'object': {
      if (value === null) return
      if (Array.isArray(value)) {
        value.forEach((v, i) => checkJson(v, `${path}[${i}]`, depth + 1))
        return
      }
      const proto = Object.getPrototypeOf(value)
      if (proto !== Object.prototype && proto !== null) throw new YlogError('BAD_DATA', `${path} is a ${describe(value)}; only plain JSON objects are allowed`)
      for (const [k, v] of Object.entries(value)) {
        if (k === '__proto__') throw new YlogError('BAD_DATA', `${path} has a "__proto__" key, which is not allowed`)
        checkJson(v, `${path}.${k}`, depth + 1)
      }
      return
    }
    default:
      throw new YlogError('BAD_DATA', `${path} is ${describe(value)}; only JSON values are allowed`)
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null'
  if (value instanceof Uint8Array) return `${value.byteLength} bytes`
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'object') return (value as object).constructor?.name ?? 'an object'
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)
  return `${typeof value} ${String(value)}`
}
