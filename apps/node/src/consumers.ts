import { KeyedSerial } from '@ylog/core/internal'
import {
  decodeCursor,
  encodeCursor,
  START,
  validateTopic,
  YlogError,
  type Cursor,
  type DurableLog,
  type EntryKind,
  type NodeId,
  type NodeTables,
} from '@ylog/core'

const NAME_PATTERN = /^[A-Za-z0-9._-]{1,128}$/

export interface ConsumerView {
  name: string
  /** Where the consumer resumes: pass it as `after` to GET /api/events or the stream; null when never acked (start at the beginning). */
  cursor: string | null
  /** ms since the epoch of the last ack, or null for a consumer never acked. */
  ackedAt: number | null
  /** Committed entries after the cursor that the filter selects. */
  behind: number
  /** The consumer's filter: only this topic / kind (null: any). */
  topic: string | null
  kind: EntryKind | null
}

/** What an ack may say besides the cursor: a filter to set (a value), clear (null) or keep (absent), and whether to go back. */
export interface AckOptions {
  rewind?: boolean
  topic?: string | null
  kind?: EntryKind | null
}

interface Filter {
  topic?: string
  kind?: EntryKind
}

/** Index positions counted per query while counting a filtered `behind`: bounded memory at any log size. */
const COUNT_PAGE = 10_000

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
    if (!NAME_PATTERN.test(name))
      throw new YlogError(
        'BAD_CONSUMER',
        `consumer name ${JSON.stringify(name.slice(0, 140))} is invalid: use 1-128 characters of A-Z a-z 0-9 . _ -`,
      )
    return name
  }

  /** A consumer never acked has cursor null: it starts at the beginning of the log. */
  async get(name: string): Promise<ConsumerView> {
    const stored = await this.#tables.readConsumer(Consumers.checkName(name))
    return this.#view(name, stored === undefined ? null : decodeCursor(stored.cursor), stored?.ackedAt ?? null, stored ?? {})
  }

  /** Moves the consumer to `cursorText`: forward only, unless `rewind` says to move it back on purpose. */
  ack(name: string, cursorText: string, options: AckOptions = {}): Promise<ConsumerView> {
    Consumers.checkName(name)
    const cursor = decodeCursor(cursorText)
    if (typeof options.topic === 'string') validateTopic(options.topic)
    return this.#acks.run(name, () => this.#ack(name, cursor, options))
  }

  async #ack(name: string, cursor: Cursor, options: AckOptions): Promise<ConsumerView> {
    const rewind = options.rewind === true
    for (const [node, next] of cursor) {
      const held = this.#durable.committedLength(node)
      if (next > held)
        throw new YlogError(
          'CURSOR_AHEAD',
          `the cursor is past this node's log: node ${node} has ${held} committed entries here, the cursor says ${next}; ack a ` +
            `"next" cursor this node returned`,
        )
    }
    const stored = await this.#tables.readConsumer(name)
    if (stored !== undefined && !rewind) {
      const before = decodeCursor(stored.cursor)
      for (const [node, next] of before) {
        const now = cursor.get(node) ?? 0
        if (now < next)
          throw new YlogError(
            'CURSOR_BACKWARDS',
            `the ack goes backwards: consumer ${name} is at seq ${next} of node ${node}, the new cursor says ${now}; acks only ` +
              `move forward (send "rewind": true to move it back on purpose)`,
          )
      }
    }
    // A filter left out of the ack stays as it was; null clears it.
    const topic = options.topic === undefined ? stored?.topic : (options.topic ?? undefined)
    const kind = options.kind === undefined ? stored?.kind : (options.kind ?? undefined)
    const filter: Filter = { ...(topic === undefined ? {} : { topic }), ...(kind === undefined ? {} : { kind }) }
    const ackedAt = Date.now()
    await this.#tables.writeConsumer({ name, cursor: encodeCursor(cursor), ackedAt, ...filter })
    return this.#view(name, cursor, ackedAt, filter)
  }

  async #view(name: string, cursor: Cursor | null, ackedAt: number | null, filter: Filter): Promise<ConsumerView> {
    const at = cursor ?? START
    const behind = filter.topic === undefined && filter.kind === undefined ? this.#behindAll(at) : await this.#behindFiltered(at, filter)
    return {
      name,
      cursor: cursor === null ? null : encodeCursor(cursor),
      ackedAt,
      behind,
      topic: filter.topic ?? null,
      kind: filter.kind ?? null,
    }
  }

  #behindAll(at: Cursor): number {
    let behind = 0
    for (const node of this.#durable.nodes()) behind += Math.max(0, this.#durable.committedLength(node as NodeId) - (at.get(node) ?? 0))
    return behind
  }

  /** Counts through the read index a page at a time; each page moves every node it saw past its last position. */
  async #behindFiltered(at: Cursor, filter: Filter): Promise<number> {
    // Captured first: index rows of entries committed meanwhile are left out, as they are from behindAll.
    const committed = new Map(this.#durable.nodes().map((node) => [node, this.#durable.committedLength(node)]))
    const start = new Map(at)
    let behind = 0
    for (;;) {
      const positions = await this.#durable.query({ after: start, topic: filter.topic, kind: filter.kind, limit: COUNT_PAGE })
      for (const { node, seq } of positions) {
        if (seq < (committed.get(node) ?? 0)) behind++
        start.set(node, Math.max(start.get(node) ?? 0, seq + 1))
      }
      if (positions.length < COUNT_PAGE) return behind
    }
  }
}
