import { decodeEntry, type Entry } from '../entry/entry.js'
import type { NodeId } from '../entry/identity.js'
import type { LogDoc } from '../doc/log-doc.js'

/**
 * Recently decoded entries, shared by every subscription of a log: live
 * subscribers all hand out the same new entries, and decoding each once
 * instead of once per subscriber is what lets one log feed many readers.
 * Shared objects must not change, so they are frozen.
 */
const DECODED_CACHE = 8192
const decodedCaches = new WeakMap<LogDoc, Map<string, Entry>>()

export function decodedEntry(log: LogDoc, node: NodeId, seq: number, bytes: Uint8Array): Entry {
  let cache = decodedCaches.get(log)
  if (cache === undefined) decodedCaches.set(log, (cache = new Map()))
  const key = `${node}:${seq}`
  let entry = cache.get(key)
  if (entry === undefined) {
    entry = deepFreeze(decodeEntry(bytes))
    cache.set(key, entry)
    // A Map iterates in insertion order: the first key is the oldest.
    if (cache.size > DECODED_CACHE) cache.delete(cache.keys().next().value as string)
  }
  return entry
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const child of Object.values(value)) deepFreeze(child)
  }
  return value
}
