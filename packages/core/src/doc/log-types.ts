// The types LogDoc's API speaks in (log-doc.ts).
import type { Entry, EntryBody } from '../entry/entry.js'
import type { NodeId, NodeIdentity } from '../entry/identity.js'
import type { Membership } from './membership.js'
import type { RefusalReason } from './update-guard.js'

/** Transaction origins, so listeners can tell where an update came from. */
export const ORIGIN_LOCAL = Symbol('ylog:local')
export const ORIGIN_REMOTE = Symbol('ylog:remote')
export const ORIGIN_REPLAY = Symbol('ylog:replay')
export type UpdateOrigin = typeof ORIGIN_LOCAL | typeof ORIGIN_REMOTE | typeof ORIGIN_REPLAY

export interface LogDocOptions {
  /** The local writer. Without one the log is a read-only replica. */
  identity?: NodeIdentity
  /** Who may write; default: any key (each only in its own part). */
  membership?: Membership
  /** Clock for `at`; default Date.now. */
  now?: () => number
  /** How far ahead of `now` a given `at` or `time` may be (default 60,000 ms); later ones are refused BAD_TIME. */
  maxClockSkewMs?: number
  /**
   * The earliest `at` or `time` taken from a writer (default 0; the node daemon uses PLAUSIBLE_MIN_TIME_MS to catch seconds sent
   * as milliseconds).
   */
  minTimeMs?: number
  /** Most bytes of updates kept while they wait for missing structs (default 64 MiB). */
  maxHeldBytes?: number
}

export interface Head {
  node: NodeId
  /** Number of entries held locally; the last seq is length - 1. */
  length: number
  /** Hex hash of the last entry (64 zeros when length is 0). */
  hash: string
  at: number
  forked: boolean
}

/** An entry signed for this node, ready to append (what a signer returns, with its input). */
export interface SignedEntry {
  seq: number
  prev: Uint8Array
  at: number
  time?: number
  topic: string
  body: EntryBody
  bytes: Uint8Array
  hash: Uint8Array
}

export interface SeqRange {
  from: number
  to: number
}

export type ApplyResult =
  | { status: 'accepted'; added: number; released: number }
  | { status: 'held'; waiting: number }
  | { status: 'refused'; reason: RefusalReason; detail: string }

export interface EntriesAdded {
  node: NodeId
  fromSeq: number
  count: number
  origin: UpdateOrigin
  /** The entry itself, for a local append (saves listeners a decode). */
  entry?: Entry
}
