import { decode, encode, rfc8949EncodeOptions } from 'cborg'
import { toHex } from './bytes.js'
import { YlogError } from '../errors.js'
import type { NodeId } from './identity.js'

/**
 * A version-vector cursor: for each node, the next seq to read. Entries of a
 * node below its cursor value have been read; nodes absent start at 0. As a
 * string it is opaque: "c1." then base64url of canonical CBOR
 * [[node key bytes, next seq], ...] sorted by node.
 */
export type Cursor = ReadonlyMap<NodeId, number>

const PREFIX = 'c1.'
const MAX_CURSOR_LENGTH = 1 << 20

export const START: Cursor = new Map()

export function encodeCursor(cursor: Cursor): string {
  const pairs = [...cursor.entries()]
    .filter(([, next]) => next > 0)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([node, next]) => [Buffer.from(node, 'hex'), next])
  return PREFIX + Buffer.from(encode(pairs, rfc8949EncodeOptions)).toString('base64url')
}

/** Parses a cursor string; the empty string is the start of the log. */
export function decodeCursor(text: string): Cursor {
  if (text === '') return START
  const bad = (why: string): YlogError =>
    new YlogError(
      'BAD_CURSOR',
      `cursor ${JSON.stringify(text.length > 60 ? `${text.slice(0, 60)}…` : text)} is invalid: ${why}; use a "next" value ` +
        `returned by the log, or omit it to start from the beginning`,
    )
  if (text.length > MAX_CURSOR_LENGTH) throw bad('too long')
  if (!text.startsWith(PREFIX)) throw bad(`it does not start with "${PREFIX}"`)
  const body = text.slice(PREFIX.length)
  if (!/^[A-Za-z0-9_-]*$/.test(body)) throw bad('not base64url')
  let pairs: unknown
  try {
    pairs = decode(Buffer.from(body, 'base64url'), { strict: true, allowUndefined: false, allowBigInt: false })
  } catch {
    throw bad('not decodable')
  }
  if (!Array.isArray(pairs)) throw bad('not a list')
  const cursor = new Map<NodeId, number>()
  for (const pair of pairs) {
    if (!Array.isArray(pair) || pair.length !== 2) throw bad('malformed pair')
    const [key, next] = pair as [unknown, unknown]
    if (!(key instanceof Uint8Array) || key.byteLength !== 32) throw bad('malformed node key')
    if (!Number.isSafeInteger(next) || (next as number) < 0) throw bad('malformed seq')
    const node = toHex(key)
    if (cursor.has(node)) throw bad('node repeated')
    cursor.set(node, next as number)
  }
  return cursor
}
