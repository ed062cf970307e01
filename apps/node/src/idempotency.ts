import { createHash } from 'node:crypto'
import { YlogError, type DurableLog, type Entry, type NodeTables } from '@ylog/core'
import { encode, rfc8949EncodeOptions } from 'cborg'

/** Keys are echoed in errors and stored per request: short, visible ASCII. */
const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/

export interface IdempotentResult {
  entries: Entry[]
  /** True when the key was seen before and nothing new was written. */
  replayed: boolean
}

/**
 * The Idempotency-Key contract of POST /api/events and /api/events/batch:
 * the first request with a key writes and stores the key with its entries
 * in the same commit (so a crash cannot separate them); a repeat with the
 * same request gets the same entries back and writes nothing; a repeat with
 * a different request is a conflict. Keys are this node's: they are not
 * replicated, so a retry must go to the node that took the first attempt.
 */
export class IdempotencyKeys {
  readonly #durable: DurableLog
  readonly #tables: NodeTables
  readonly #ttlMs: number
  readonly #now: () => number
  readonly #inFlight = new Map<string, Promise<IdempotentResult>>()

  /**
   * A key is remembered for `ttlMs` after its first entry's `at`; after
   * that it counts as new (its record is pruned, see pruneExpired, and a
   * new request replaces one not pruned yet).
   */
  constructor(durable: DurableLog, tables: NodeTables, { ttlMs, now = Date.now }: { ttlMs: number; now?: () => number }) {
    this.#durable = durable
    this.#tables = tables
    this.#ttlMs = ttlMs
    this.#now = now
  }

  /** Drops the records of expired keys from the store; resolves with how many. */
  pruneExpired(): Promise<number> {
    return this.#tables.pruneIdempotency(this.#now() - this.#ttlMs)
  }

  /** Checks a header value; undefined when absent. */
  static parseKey(header: string | string[] | undefined): string | undefined {
    if (header === undefined) return undefined
    if (Array.isArray(header) || !KEY_PATTERN.test(header)) {
      throw new YlogError(
        'BAD_IDEMPOTENCY_KEY',
        'the Idempotency-Key header must be one value of 1-255 visible ASCII characters (a UUID is a good choice)',
      )
    }
    return header
  }

  /** SHA-256 of the route and body in canonical CBOR, so key order and whitespace do not matter. */
  static requestHash(route: string, body: unknown): Uint8Array {
    return createHash('sha256')
      .update(encode([route, body], rfc8949EncodeOptions))
      .digest()
  }

  async once(
    key: string,
    requestHash: Uint8Array,
    write: (idempotency: { key: string; requestHash: Uint8Array }) => Promise<Entry[]>,
  ): Promise<IdempotentResult> {
    // Requests with the same key run one after the other, so the second sees the first's record.
    for (let running = this.#inFlight.get(key); running !== undefined; running = this.#inFlight.get(key))
      await running.catch(() => undefined)
    const attempt = this.#attempt(key, requestHash, write)
    this.#inFlight.set(key, attempt)
    try {
      return await attempt
    } finally {
      if (this.#inFlight.get(key) === attempt) this.#inFlight.delete(key)
    }
  }

  async #attempt(
    key: string,
    requestHash: Uint8Array,
    write: (idempotency: { key: string; requestHash: Uint8Array }) => Promise<Entry[]>,
  ): Promise<IdempotentResult> {
    const found = await this.#tables.findIdempotency(key)
    const first = found === undefined ? undefined : this.#durable.get(found.node, found.seq)
    if (found === undefined || (first !== undefined && first.at < this.#now() - this.#ttlMs))
      return { entries: await write({ key, requestHash }), replayed: false }
    if (!Buffer.from(found.requestHash).equals(Buffer.from(requestHash))) {
      throw new YlogError(
        'IDEMPOTENCY_CONFLICT',
        `Idempotency-Key ${JSON.stringify(key)} was already used with a different request (it wrote ` +
          `${found.node}:${found.seq}); use a new key for a new request`,
      )
    }
    const entries: Entry[] = []
    for (let seq = found.seq; seq < found.seq + found.count; seq++) {
      const entry = seq === found.seq ? first : this.#durable.get(found.node, seq)
      if (entry === undefined)
        throw new YlogError(
          'STORE_CORRUPT',
          `Idempotency-Key ${JSON.stringify(key)} names ${found.node}:${seq}, which this node does not hold`,
        )
      entries.push(entry)
    }
    return { entries, replayed: true }
  }
}
