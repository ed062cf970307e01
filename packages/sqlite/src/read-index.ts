import type Database from 'better-sqlite3'
import { YlogError, type IndexQuery, type IndexRow, type NodeId, type TimePosition } from '@ylog/core'
import { isTimeOrdered, type IndexedPosition } from './pending-index.js'
import { KIND_CODES } from './schema.js'

type Position = { node: NodeId; seq: number }

/**
 * The read index: one short row per entry, so queries never decode Yjs
 * documents. Node ids and topics are interned into small integers; the
 * interning tables are small enough to mirror in memory, which saves a
 * lookup per appended entry and lets queries walk nodes in text order.
 */
export class ReadIndex {
  readonly #db: Database.Database
  readonly #nodeIds = new Map<NodeId, number>()
  readonly #topicIds = new Map<string, number>()
  #nodesInOrder: Array<{ node: NodeId; id: number }> | undefined
  readonly #insertEntry: Database.Statement<[number, number, number, number, number, number | null]>
  readonly #insertNode: Database.Statement<[string]>
  readonly #insertTopic: Database.Statement<[string]>
  readonly #internSubject: Database.Statement<[string]>
  readonly #findSubject: Database.Statement<[string]>
  readonly #queries = new Map<string, Database.Statement>()

  constructor(db: Database.Database) {
    this.#db = db
    // A duplicate (node, seq) can only repeat a row already indexed; failing the
    // whole commit (and stopping the log) over derived data would be worse.
    this.#insertEntry = db.prepare('INSERT OR IGNORE INTO entries (node_id, seq, at, topic_id, kind, subject_id) VALUES (?, ?, ?, ?, ?, ?)')
    this.#insertNode = db.prepare('INSERT INTO nodes (node) VALUES (?)')
    this.#insertTopic = db.prepare('INSERT INTO topics (topic) VALUES (?)')
    // Subjects are unbounded in number, so unlike nodes and topics they are not mirrored in memory: interned per transition.
    this.#internSubject = db
      .prepare('INSERT INTO subjects (subject) VALUES (?) ON CONFLICT (subject) DO UPDATE SET subject = subject RETURNING id')
      .pluck()
    this.#findSubject = db.prepare('SELECT id FROM subjects WHERE subject = ?').pluck()
    this.reload()
  }

  /** Re-reads the interning tables: at open, and after a rolled-back append left the mirrors ahead of the file. */
  reload(): void {
    this.#nodeIds.clear()
    this.#topicIds.clear()
    this.#nodesInOrder = undefined
    for (const row of this.#db.prepare('SELECT id, node FROM nodes').all() as Array<{ id: number; node: string }>)
      this.#nodeIds.set(row.node, row.id)
    for (const row of this.#db.prepare('SELECT id, topic FROM topics').all() as Array<{ id: number; topic: string }>)
      this.#topicIds.set(row.topic, row.id)
  }

  /** Adds rows; call inside the append transaction so they commit with their update. */
  insert(rows: readonly IndexRow[]): void {
    for (const row of rows) {
      const kind = KIND_CODES[row.kind]
      if (kind === undefined)
        throw new YlogError(
          'BAD_KIND',
          `index row ${row.node}:${row.seq} has kind ${JSON.stringify(row.kind)}; expected one of ${Object.keys(KIND_CODES).join(', ')}`,
        )
      const subject = row.kind === 'transition' && row.subject !== undefined ? (this.#internSubject.get(row.subject) as number) : null
      this.#insertEntry.run(this.nodeId(row.node), row.seq, row.at, this.#topicId(row.topic), kind, subject)
    }
  }

  /** Positions in the query's order; time-ordered answers carry each entry's `at` (see mergePending). */
  query(q: IndexQuery): IndexedPosition[] {
    const limit = checkLimit(q.limit)
    if (q.after !== undefined && (q.newestFirst === true || q.before !== undefined)) {
      throw new YlogError(
        'BAD_ARGUMENT',
        'query: after (a cursor, in node order) cannot be combined with newestFirst or before (time order)',
      )
    }
    if (limit === 0) return []
    let topicId: number | undefined
    if (q.topic !== undefined) {
      topicId = this.#topicIds.get(q.topic)
      if (topicId === undefined) return []
    }
    let kind: number | undefined
    if (q.kind !== undefined) {
      kind = KIND_CODES[q.kind]
      if (kind === undefined) return []
    }
    let subjectId: number | undefined
    if (q.subject !== undefined) {
      subjectId = this.#findSubject.get(q.subject) as number | undefined
      if (subjectId === undefined) return []
    }
    const filters: Filters = { since: q.since, until: q.until, topicId, kind, subjectId }
    return isTimeOrdered(q) ? this.#byTime(filters, q.before, q.newestFirst === true, limit) : this.#byNode(q.after, filters, limit)
  }

  // One indexed range query per node, in node text order, so a cursor read
  // touches only the rows it returns (plus those its filters skip).
  #byNode(after: IndexQuery['after'], f: Filters, limit: number): Position[] {
    const statement = this.#statement(
      'node',
      f,
      () => `SELECT seq FROM entries WHERE node_id = @node AND seq >= @from${whereFilters(f)} ORDER BY seq LIMIT @limit`,
    )
    const out: Position[] = []
    for (const { node, id } of this.#orderedNodes()) {
      const rows = statement.all({ ...bindFilters(f), node: id, from: after?.get(node) ?? 0, limit: limit - out.length }) as Array<{
        seq: number
      }>
      for (const row of rows) out.push({ node, seq: row.seq })
      if (out.length >= limit) break
    }
    return out
  }

  // CROSS JOIN keeps entries as the outer loop, so SQLite walks entries_by_time
  // (or entries_by_subject) in `at` order, either way, and only sorts rows
  // that tie on `at` (by node text, then seq), stopping at the limit.
  // `before` bounds `at` first (`at <= @bat`) so the walk starts there.
  #byTime(f: Filters, before: TimePosition | undefined, newestFirst: boolean, limit: number): IndexedPosition[] {
    const shape = `time:${newestFirst ? 'desc' : 'asc'}:${before !== undefined}`
    const statement = this.#statement(shape, f, () => {
      const order = newestFirst ? 'e.at DESC, n.node DESC, e.seq DESC' : 'e.at, n.node, e.seq'
      const bound =
        before === undefined ? '' : ' AND e.at <= @bat AND (e.at < @bat OR n.node < @bnode OR (n.node = @bnode AND e.seq < @bseq))'
      return (
        `SELECT n.node AS node, e.seq AS seq, e.at AS at FROM entries AS e CROSS JOIN nodes AS n ON n.id = e.node_id WHERE ` +
        `1${whereFilters(f, 'e.')}${bound} ORDER BY ${order} LIMIT @limit`
      )
    })
    const bind = before === undefined ? {} : { bat: before.at, bnode: before.node, bseq: before.seq }
    return statement.all({ ...bindFilters(f), ...bind, limit }) as IndexedPosition[]
  }

  #statement(shape: string, f: Filters, sql: () => string): Database.Statement {
    const set = [f.since, f.until, f.topicId, f.subjectId].map((v) => v !== undefined)
    const key = `${shape}:${set.join(':')}:${f.kind ?? ''}`
    let statement = this.#queries.get(key)
    if (statement === undefined) {
      statement = this.#db.prepare(sql())
      this.#queries.set(key, statement)
    }
    return statement
  }

  #orderedNodes(): Array<{ node: NodeId; id: number }> {
    this.#nodesInOrder ??= [...this.#nodeIds]
      .map(([node, id]) => ({ node, id }))
      .sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0))
    return this.#nodesInOrder
  }

  /** The node's interned id, added if new (inside a transaction, like `insert`). */
  nodeId(node: NodeId): number {
    let id = this.#nodeIds.get(node)
    if (id === undefined) {
      id = Number(this.#insertNode.run(node).lastInsertRowid)
      this.#nodeIds.set(node, id)
      this.#nodesInOrder = undefined
    }
    return id
  }

  #topicId(topic: string): number {
    let id = this.#topicIds.get(topic)
    if (id === undefined) {
      id = Number(this.#insertTopic.run(topic).lastInsertRowid)
      this.#topicIds.set(topic, id)
    }
    return id
  }
}

interface Filters {
  since: number | undefined
  until: number | undefined
  topicId: number | undefined
  kind: number | undefined
  subjectId: number | undefined
}

function whereFilters(f: Filters, table = ''): string {
  return (
    (f.since !== undefined ? ` AND ${table}at >= @since` : '') +
    (f.until !== undefined ? ` AND ${table}at < @until` : '') +
    (f.topicId !== undefined ? ` AND ${table}topic_id = @topic` : '') +
    // A literal, not a parameter: SQLite uses the partial index of gap entries only for `kind = 2` written out.
    (f.kind !== undefined ? ` AND ${table}kind = ${f.kind}` : '') +
    (f.subjectId !== undefined ? ` AND ${table}subject_id = @subject` : '')
  )
}

function bindFilters(f: Filters): Record<string, number> {
  const params: Record<string, number> = {}
  if (f.since !== undefined) params.since = f.since
  if (f.until !== undefined) params.until = f.until
  if (f.topicId !== undefined) params.topic = f.topicId
  if (f.subjectId !== undefined) params.subject = f.subjectId
  return params
}

export function checkLimit(limit: number): number {
  if (limit === Number.POSITIVE_INFINITY) return Number.MAX_SAFE_INTEGER
  if (typeof limit !== 'number' || !(limit >= 0))
    throw new YlogError('BAD_ARGUMENT', `query limit must be a number >= 0, got ${String(limit)}`)
  return Math.floor(limit)
}
