import { bytesEqual, sha256, ZERO_HASH } from './bytes.js'
import type { NodeId } from './identity.js'
import { peekEntry, signatureOf, signedMessage } from './entry.js'
import { verifySignature } from './identity.js'

/** Where a run of one node's entries starts: the head it must extend. */
export interface ChainStart {
  seq: number
  prev: Uint8Array
  /** `at` of the entry before the run; a run never goes back in time. */
  at: number
}

export type RunVerdict =
  | { ok: true; hashes: Uint8Array[] }
  | {
      ok: false
      index: number
      seq: number
      reason: 'bad-entry' | 'wrong-node' | 'bad-seq' | 'bad-prev' | 'time-regression' | 'bad-signature'
      detail: string
    }

/**
 * Verifies a contiguous run of one node's entries with one signature check:
 * every entry must link to the previous one by hash, and the last entry's
 * signature must hold. Because each hash covers the whole entry, signature
 * included, that one signature vouches for every entry before it.
 *
 * On failure the first entry that cannot be trusted is located exactly: a
 * broken link or a bad final signature is narrowed down with a binary search
 * over signatures (valid signatures form a prefix of a well-linked run).
 */
export function verifyRun(publicKey: Uint8Array, run: readonly Uint8Array[], start: ChainStart): RunVerdict {
  const hashes: Uint8Array[] = new Array(run.length)
  let prev = start.prev
  let at = start.at
  for (let i = 0; i < run.length; i++) {
    const bytes = run[i] as Uint8Array
    const seq = start.seq + i
    const header = peekEntry(bytes)
    let failure: Extract<RunVerdict, { ok: false }>['reason'] | undefined
    let detail = ''
    if (header === undefined) {
      failure = 'bad-entry'
      detail = 'not a version-1 entry'
    } else if (!bytesEqual(header.node, publicKey)) {
      failure = 'wrong-node'
      detail = 'entry is signed for another node'
    } else if (header.seq !== seq) {
      failure = 'bad-seq'
      detail = `expected seq ${seq}, got ${header.seq}`
    } else if (!bytesEqual(header.prev, prev)) {
      failure = 'bad-prev'
      detail = `prev does not match the hash of seq ${seq - 1}`
    } else if (header.at < at) {
      failure = 'time-regression'
      detail = `at ${header.at} is before the previous entry's ${at}`
    }
    if (failure !== undefined) {
      // Entries before i are linked; the last good one is the last with a valid signature.
      const good = lastSigned(publicKey, run, i - 1)
      if (good + 1 < i) return badSignatureAfter(start, good)
      return { ok: false, index: i, seq, reason: failure, detail }
    }
    hashes[i] = sha256(bytes)
    prev = hashes[i] as Uint8Array
    at = (header as { at: number }).at
  }
  if (run.length > 0 && !signatureValid(publicKey, run[run.length - 1] as Uint8Array)) {
    return badSignatureAfter(start, lastSigned(publicKey, run, run.length - 2))
  }
  return { ok: true, hashes }
}

/** The verdict for the entry after the last validly signed one (`good`, an index into the run). */
function badSignatureAfter(start: ChainStart, good: number): RunVerdict {
  const seq = start.seq + good + 1
  return { ok: false, index: good + 1, seq, reason: 'bad-signature', detail: `signature of seq ${seq} does not verify` }
}

export function signatureValid(publicKey: Uint8Array, bytes: Uint8Array): boolean {
  return verifySignature(publicKey, signedMessage(bytes), signatureOf(bytes))
}

/** Largest index <= hi whose signature verifies, or -1; run[0..hi] must be well linked. */
function lastSigned(publicKey: Uint8Array, run: readonly Uint8Array[], hi: number): number {
  let lo = -1
  while (lo < hi) {
    const mid = Math.ceil((lo + hi + 1) / 2)
    if (signatureValid(publicKey, run[mid] as Uint8Array)) lo = mid
    else hi = mid - 1
  }
  return lo
}

export type ChainsVerdict = { ok: true; entries: number } | { ok: false; node: NodeId; seq: number; detail: string }

/**
 * Checks whole chains: hash links, seqs, time order, one signature per
 * chunk. With `from`, only entries at or after from.get(node) are checked,
 * linked to the (trusted) entry before them: what a replay does for the tail
 * after a checksummed snapshot.
 */
export function verifyChains(
  nodes: Iterable<{ node: NodeId; publicKey: Uint8Array; next: number }>,
  getBytes: (node: NodeId, seq: number) => Uint8Array | undefined,
  from?: ReadonlyMap<NodeId, number>,
): ChainsVerdict {
  const CHUNK = 65536
  let entries = 0
  for (const { node, publicKey, next } of nodes) {
    const first = Math.min(from?.get(node) ?? 0, next)
    const before = first > 0 ? getBytes(node, first - 1) : undefined
    if (first > 0 && before === undefined) return { ok: false, node, seq: first - 1, detail: 'entry missing from its place in the layout' }
    let start = {
      seq: first,
      prev: before === undefined ? ZERO_HASH : sha256(before),
      at: before === undefined ? 0 : (peekEntry(before)?.at ?? 0),
    }
    for (let chunk = first; chunk < next; chunk += CHUNK) {
      const run: Uint8Array[] = []
      for (let seq = chunk; seq < Math.min(next, chunk + CHUNK); seq++) {
        const bytes = getBytes(node, seq)
        if (bytes === undefined) return { ok: false, node, seq, detail: 'entry missing from its place in the layout' }
        run.push(bytes)
      }
      const verdict = verifyRun(publicKey, run, start)
      if (!verdict.ok) return { ok: false, node, seq: verdict.seq, detail: verdict.detail }
      const last = run[run.length - 1] as Uint8Array
      start = { seq: chunk + run.length, prev: verdict.hashes[verdict.hashes.length - 1] as Uint8Array, at: peekEntry(last)?.at ?? 0 }
      entries += run.length
    }
  }
  return { ok: true, entries }
}
