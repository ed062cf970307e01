import type Database from 'better-sqlite3'
import type { ConsumerRecord, EntryKind, IdempotencyRecord, NodeId } from '@ylog/core'
import type { ReadIndex } from './read-index.js'

/**
 * The small per-node tables beside the log (schema 2): idempotency keys and
 * named consumers' positions. Neither is part of the replicated document.
 */
export class SideTables {
  readonly #index: ReadIndex
  readonly #insertKey: Database.Statement<[string, Uint8Array, number, number, number]>
  readonly #findKey: Database.Statement<[string]>
  readonly #pruneKeys: Database.Statement<[number]>
  readonly #readConsumer: Database.Statement<[string]>
  readonly #writeConsumer: Database.Statement<[string, string, number, string | null, string | null]>

  constructor(db: Database.Database, index: ReadIndex) {
    this.#index = index
    // The caller checks a key before appending; a record still here is one it found expired (not yet pruned), which the new one replaces.
    this.#insertKey = db.prepare('INSERT OR REPLACE INTO idempotency (key, request_sha256, node_id, seq, count) VALUES (?, ?, ?, ?, ?)')
    // A key's age is its first entry's `at`, read from the index: no column of its own to keep in step.
    this.#pruneKeys = db.prepare(
      'DELETE FROM idempotency WHERE (SELECT e.at FROM entries AS e WHERE e.node_id = idempotency.node_id AND e.seq = idempotency.seq) < ?',
    )
    this.#findKey = db.prepare(
      'SELECT i.request_sha256 AS hash, n.node AS node, i.seq AS seq, i.count AS count FROM idempotency AS i JOIN nodes AS n ON ' +
        'n.id = i.node_id WHERE i.key = ?',
    )
    this.#readConsumer = db.prepare('SELECT cursor, acked_at, topic, kind FROM consumers WHERE name = ?')
    this.#writeConsumer = db.prepare(
      'INSERT INTO consumers (name, cursor, acked_at, topic, kind) VALUES (?, ?, ?, ?, ?) ' +
        'ON CONFLICT (name) DO UPDATE SET cursor = excluded.cursor, acked_at = excluded.acked_at, topic = excluded.topic, kind ' +
        '= excluded.kind',
    )
  }

  /** Call inside the append transaction, so the key commits with the entries it names. */
  insertIdempotency(record: IdempotencyRecord): void {
    this.#insertKey.run(record.key, record.requestHash, this.#index.nodeId(record.node), record.seq, record.count)
  }

  findIdempotency(key: string): IdempotencyRecord | undefined {
    const row = this.#findKey.get(key) as { hash: Buffer; node: NodeId; seq: number; count: number } | undefined
    if (row === undefined) return undefined
    return { key, requestHash: new Uint8Array(row.hash), node: row.node, seq: row.seq, count: row.count }
  }

  pruneIdempotency(before: number): number {
    return this.#pruneKeys.run(before).changes
  }

  readConsumer(name: string): ConsumerRecord | undefined {
    const row = this.#readConsumer.get(name) as
      | { cursor: string; acked_at: number; topic: string | null; kind: EntryKind | null }
      | undefined
    if (row === undefined) return undefined
    return {
      name,
      cursor: row.cursor,
      ackedAt: row.acked_at,
      ...(row.topic === null ? {} : { topic: row.topic }),
      ...(row.kind === null ? {} : { kind: row.kind }),
    }
  }

  writeConsumer(record: ConsumerRecord): void {
    this.#writeConsumer.run(record.name, record.cursor, record.ackedAt, record.topic ?? null, record.kind ?? null)
  }
}
