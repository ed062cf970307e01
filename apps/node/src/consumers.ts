import { KeyedSerial } from '@ylog/core/internal'
import { decodeCursor, encodeCursor, START, YlogError, type Cursor, type DurableLog, type NodeId, type NodeTables } from '@ylog/core'

const NAME_PATTERN = /^[A-Za-z0-9._-]{1,128}$/

export interface ConsumerView {
  name: string
  /** Where the consumer resumes: pass it as `after` to GET /api/events or the stream; null when never acked (start at the beginning). */
  cursor: string | null
  /** ms since the epoch of the last ack, or null for a consumer never acked. */
  ackedAt: number | null
  /** Committed entries after the cursor. */
  behind: number
}

/**
 * Named consumers' positions, kept in the store so they survive restarts.
 * An ack may only move forward (per node) and never past what this node
 * holds; acks of one consumer are applied one at a time.
 */
export class Consumers {
  readonly #durable: DurableLog
  readonly #tables: NodeTables
  readonly #acks = new KeyedSerial<string>()

  constructor(durable: DurableLog, tables: NodeTables) {
    this.#durable = durable
    this.#tables = tables
  }

  static checkName(name: string): string {
    if (!NAME_PATTERN.test(name)) throw new YlogError('BAD_CONSUMER', `consumer name ${JSON.stringify(name.slice(0, 140))} is invalid: use 1-128 characters of A-Z a-z 0-9 . _ -`)
    return name
  }

  /** A consumer never acked has cursor null: it starts at the beginning of the log. */
  async get(name: string): Promise<ConsumerView> {
    const stored = await this.#tables.readConsumer(Consumers.checkName(name))
    return this.#view(name, stored === undefined ? null : decodeCursor(stored.cursor), stored?.ackedAt ?? null)
  }

  /** Moves the consumer to `cursorText`: forward only, unless `rewind` says to move it back on purpose. */
  ack(name: string, cursorText: string, options: { rewind?: boolean } = {}): Promise<ConsumerView> {
    Consumers.checkName(name)
    const cursor = decodeCursor(cursorText)
    return this.#acks.run(name, () => this.#ack(name, cursor, options.rewind === true))
  }

  async #ack(name: string, cursor: Cursor, rewind: boolean): Promise<ConsumerView> {
    for (const [node, next] of cursor) {
      const held = this.#durable.committedLength(node)
      if (next > held) throw new YlogError('CURSOR_AHEAD', `the cursor is past this node's log: node ${node} has ${held} committed entries here, the cursor says ${next}; ack a "next" cursor this node returned`)
    }
    const stored = await this.#tables.readConsumer(name)
    if (stored !== undefined && !rewind) {
      const before = decodeCursor(stored.cursor)
      for (const [node, next] of before) {
        const now = cursor.get(node) ?? 0
        if (now < next) throw new YlogError('CURSOR_BACKWARDS', `the ack goes backwards: consumer ${name} is at seq ${next} of node ${node}, the new cursor says ${now}; acks only move forward (send "rewind": true to move it back on purpose)`)
      }
    }
    const ackedAt = Date.now()
    await this.#tables.writeConsumer({ name, cursor: encodeCursor(cursor), ackedAt })
    return this.#view(name, cursor, ackedAt)
  }

  #view(name: string, cursor: Cursor | null, ackedAt: number | null): ConsumerView {
    const at = cursor ?? START
    let behind = 0
    for (const node of this.#durable.nodes()) behind += Math.max(0, this.#durable.committedLength(node as NodeId) - (at.get(node) ?? 0))
    return { name, cursor: cursor === null ? null : encodeCursor(cursor), ackedAt, behind }
  }
}
