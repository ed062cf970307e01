import type Database from 'better-sqlite3'
import type { ConsumerRecord, IdempotencyRecord, NodeId } from '@ylog/core'
import type { ReadIndex } from './read-index.js'

/**
 * The small per-node tables beside the log (schema 2): idempotency keys and
 * named consumers' positions. Neither is part of the replicated document.
 */
export class SideTables {
  readonly #index: ReadIndex
  readonly #insertKey: Database.Statement<[string, Uint8Array, number, number, number]>
  readonly #findKey: Database.Statement<[string]>
  readonly #readConsumer: Database.Statement<[string]>
  readonly #writeConsumer: Database.Statement<[string, string, number]>

  constructor(db: Database.Database, index: ReadIndex) {
    this.#index = index
    // A key is taken once; the caller checks before appending, so a conflict here means a bug above, and failing the commit is right.
    this.#insertKey = db.prepare('INSERT INTO idempotency (key, request_sha256, node_id, seq, count) VALUES (?, ?, ?, ?, ?)')
    this.#findKey = db.prepare('SELECT i.request_sha256 AS hash, n.node AS node, i.seq AS seq, i.count AS count FROM idempotency AS i JOIN nodes AS n ON n.id = i.node_id WHERE i.key = ?')
    this.#readConsumer = db.prepare('SELECT cursor, acked_at FROM consumers WHERE name = ?')
    this.#writeConsumer = db.prepare('INSERT INTO consumers (name, cursor, acked_at) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET cursor = excluded.cursor, acked_at = excluded.acked_at')
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

  readConsumer(name: string): ConsumerRecord | undefined {
    const row = this.#readConsumer.get(name) as { cursor: string; acked_at: number } | undefined
    return row === undefined ? undefined : { name, cursor: row.cursor, ackedAt: row.acked_at }
  }

  writeConsumer(record: ConsumerRecord): void {
    this.#writeConsumer.run(record.name, record.cursor, record.ackedAt)
  }
}
