import { checkEntrySize, encodeEntryTail, validateBody, validateTopic, type EntryBody, type EntryInput } from '../entry/entry.js'
import { checkGivenTime, type TimeLimits } from '../entry/entry-time.js'
import { YlogError } from '../errors.js'
import type { NodeIdentity } from '../entry/identity.js'

/** An append's input, checked and encoded: what a signer needs besides the chain's head. */
export interface PreparedEntry {
  identity: NodeIdentity
  topic: string
  body: EntryBody
  /** The requested append time (the signer raises it to the node's last `at`). */
  at: number
  /** The event's own time, stored as given. */
  time: number | undefined
  /** `encodeEntryTail(topic, body)`. */
  tail: Uint8Array
}

/** Runs one batch element's step; a YlogError from it names the element (for batches of more than one). */
export function inBatch<T>(size: number, index: number, step: () => T): T {
  try {
    return step()
  } catch (err) {
    if (size > 1 && err instanceof YlogError) throw new YlogError(err.code, `batch entry ${index}: ${err.message}`, { cause: err })
    throw err
  }
}

/**
 * Validates an append's input and encodes its topic, kind and data (the
 * tail the signer splices into the entry). Everything that can refuse an
 * entry is checked here, times and size included, so a refused write is
 * refused before anything is numbered or queued.
 */
export function prepareEntry(identity: NodeIdentity, input: EntryInput, now: number, limits: TimeLimits): PreparedEntry {
  validateTopic(input.topic)
  const body = validateBody(input.kind, input.data)
  const at = input.at === undefined ? now : checkGivenTime('at', input.at, now, limits)
  const time = input.time === undefined ? undefined : checkGivenTime('time', input.time, now, limits)
  const tail = encodeEntryTail(input.topic, body)
  checkEntrySize(tail, time)
  return { identity, topic: input.topic, body, at, time, tail }
}
