// The meta part of an append journal record: each update's length, its index rows and
// idempotency key. Format 2 (journals headed "ylogapp2") is CBOR, node ids and hashes as
// byte strings, kinds as the index's codes:
//
//   meta     [record, …]
//   record   [update length, [entry, …], key?]
//   entry    [node (32 bytes), seq, at, topic, kind code (KIND_CODES), subject?]
//   key      [key, request SHA-256 (32 bytes), node (32 bytes), seq, count]
//
// Format 1 ("ylogapp1") was JSON with node ids and hashes as hex, about twice the size
// (153 against 70 bytes for one entry); it is still read, so that appends a crash left
// behind under an earlier ylog are not lost.
import { decode, encode } from 'cborg'
import { toHex, type EntryKind, type IdempotencyRecord, type IndexRow, type NodeId, type UpdateRecord } from '@ylog/core'
import { KIND_CODES } from './schema.js'

/** What the meta says of one update: its length, and its record without the bytes. */
export interface UpdateMeta {
  bytes: number
  entries: IndexRow[]
  idempotency?: IdempotencyRecord
}

type EntryTuple = [Uint8Array, number, number, string, number, string?]
type KeyTuple = [string, Uint8Array, Uint8Array, number, number]
type RecordTuple = [number, EntryTuple[], KeyTuple?]

const KINDS = Object.fromEntries(Object.entries(KIND_CODES).map(([kind, code]) => [code, kind])) as Record<number, EntryKind>

/** The meta of one record's updates, in format 2. */
export function encodeMeta(records: readonly UpdateRecord[]): Uint8Array {
  return encode(
    records.map((record): RecordTuple => {
      const entries = record.entries.map((r): EntryTuple => {
        const tuple: EntryTuple = [Buffer.from(r.node, 'hex'), r.seq, r.at, r.topic, KIND_CODES[r.kind]]
        if (r.subject !== undefined) tuple.push(r.subject)
        return tuple
      })
      const key = record.idempotency
      if (key === undefined) return [record.update.byteLength, entries]
      return [record.update.byteLength, entries, [key.key, key.requestHash, Buffer.from(key.node, 'hex'), key.seq, key.count]]
    }),
  )
}

/** Reads a record's meta in the journal's format; throws what is wrong with it. */
export function decodeMeta(bytes: Uint8Array, format: 1 | 2): UpdateMeta[] {
  const records = format === 1 ? fromJson(bytes) : fromCbor(bytes)
  if (records.length === 0) throw new Error('no updates in it')
  return records
}

function fromCbor(bytes: Uint8Array): UpdateMeta[] {
  const meta = decode(bytes) as unknown
  if (!Array.isArray(meta)) throw new Error('its meta is not a list of updates')
  return (meta as RecordTuple[]).map(([length, entries, key]) => {
    if (!Number.isSafeInteger(length) || !Array.isArray(entries)) throw new Error('an update in its meta has no length or rows')
    const out: UpdateMeta = {
      bytes: length,
      entries: entries.map(([node, seq, at, topic, code, subject]) => {
        const kind = KINDS[code]
        if (kind === undefined) throw new Error(`an index row has kind code ${String(code)}`)
        return { node: toHex(node), seq, at, topic, kind, ...(subject === undefined ? {} : { subject }) }
      }),
    }
    if (key !== undefined) {
      const [name, requestHash, node, seq, count] = key
      out.idempotency = { key: name, requestHash: new Uint8Array(requestHash), node: toHex(node), seq, count }
    }
    return out
  })
}

type JsonEntry = [NodeId, number, number, string, EntryKind, string?]
type JsonKey = [string, string, NodeId, number, number]
interface JsonMeta {
  records: Array<{ bytes: number; entries: JsonEntry[]; key?: JsonKey }>
}

function fromJson(bytes: Uint8Array): UpdateMeta[] {
  const meta = JSON.parse(Buffer.from(bytes).toString('utf8')) as JsonMeta
  if (!Array.isArray(meta.records)) throw new Error('its meta has no records')
  return meta.records.map((r) => {
    const out: UpdateMeta = {
      bytes: r.bytes,
      entries: r.entries.map(([node, seq, at, topic, kind, subject]) => ({
        node,
        seq,
        at,
        topic,
        kind,
        ...(subject === undefined ? {} : { subject }),
      })),
    }
    if (r.key !== undefined) {
      const [key, hash, node, seq, count] = r.key
      out.idempotency = { key, requestHash: new Uint8Array(Buffer.from(hash, 'hex')), node, seq, count }
    }
    return out
  })
}
