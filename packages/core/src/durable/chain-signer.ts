import { signEntryTail } from '../entry/entry.js'
import { toWire, type WireError } from '../errors.js'
import type { NodeIdentity } from '../entry/identity.js'

/** Where a node's chain stands: the next seq, the hash it must link to, and the last `at`. */
export interface ChainHead {
  next: number
  prev: Uint8Array
  at: number
}

/** An entry to sign: its encoded topic, kind and data (`encodeEntryTail`), its requested append time and its event time, if any. */
export interface SignRequest {
  tail: Uint8Array
  at: number
  time?: number | undefined
}
/** One entry to sign, or a group signed all together or not at all (a batch append). */
export type SignJob = SignRequest | { group: SignRequest[] }
export type SignedOk = { ok: true; seq: number; at: number; time?: number; prev: Uint8Array; bytes: Uint8Array; hash: Uint8Array }
export type Signed = SignedOk | ({ ok: false } & WireError)
export type JobResult = Signed | { ok: true; group: SignedOk[] }

/**
 * Signs one node's entries in chain order: the same code on the signing
 * thread and, when that thread is idle, on the main thread (signer.ts), so
 * both follow the same rules. `run` never throws: a refused entry (too
 * large, typically) is a result, and the chain stays where it was; a group
 * is signed whole or not at all.
 */
export class ChainSigner {
  head: ChainHead
  readonly #identity: NodeIdentity

  constructor(identity: NodeIdentity, head: ChainHead) {
    this.#identity = identity
    this.head = { ...head }
  }

  run(job: SignJob): JobResult {
    const before = this.head
    const group: SignedOk[] = []
    try {
      if (!('group' in job)) return this.#sign(job)
      for (const request of job.group) group.push(this.#sign(request))
      return { ok: true, group }
    } catch (err) {
      this.head = before
      const where = 'group' in job && job.group.length > 1 ? `batch entry ${group.length}: ` : ''
      const wire = toWire(err, 'SIGNER_FAILED')
      return { ok: false, code: wire.code, message: where + wire.message }
    }
  }

  #sign(request: SignRequest): SignedOk {
    const { next, prev } = this.head
    const at = Math.max(request.at, this.head.at)
    const { bytes, hash } = signEntryTail(this.#identity, { seq: next, prev, at }, request.tail, request.time)
    this.head = { next: next + 1, prev: hash, at }
    return { ok: true, seq: next, at, ...(request.time === undefined ? {} : { time: request.time }), prev, bytes, hash }
  }
}

/** Where `identity`'s chain stands in `log`: what a signer starts from at open, and returns to after a recovery. */
export function chainHeadOf(
  log: { heads(): Map<string, { length: number; hash: string; at: number }> },
  identity: NodeIdentity | undefined,
): ChainHead {
  const head = identity === undefined ? undefined : log.heads().get(identity.id)
  return {
    next: head?.length ?? 0,
    prev: head === undefined ? new Uint8Array(32) : new Uint8Array(Buffer.from(head.hash, 'hex')),
    at: head?.at ?? 0,
  }
}
