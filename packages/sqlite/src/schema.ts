import { randomBytes } from 'node:crypto'
import type Database from 'better-sqlite3'
import { LogDoc, type EntryKind } from '@ylog/core'

/** The schema version this code writes; stored in `PRAGMA user_version`. */
export const SCHEMA_VERSION = 8

/** "ylog" in ASCII, stored in `PRAGMA application_id` so a ylog store can be told apart from any other SQLite file. */
export const APPLICATION_ID = 0x796c6f67

/**
 * Kinds are stored as small integers to keep index rows short. The mapping
 * is part of the on-disk format, so it is spelled out here rather than taken
 * from the order of ENTRY_KINDS (which could change); the Record type makes
 * adding a kind without a code a compile error.
 */
export const KIND_CODES: Readonly<Record<EntryKind, number>> = { transition: 0, event: 1, gap: 2 }

type Migration = (db: Database.Database) => void

/**
 * Index rows are kept small because the index counts against the store's
 * size budget: node ids (64 hex characters) and topics are interned once in
 * their own tables, and `entries` is WITHOUT ROWID so the (node_id, seq) key
 * is the row itself instead of a second b-tree.
 */
function createV1(db: Database.Database): void {
  db.exec(`
    CREATE TABLE meta (
      key TEXT PRIMARY KEY,
      value INTEGER NOT NULL
    ) WITHOUT ROWID;
    INSERT INTO meta (key, value) VALUES ('last_id', 0);

    CREATE TABLE updates (
      id INTEGER PRIMARY KEY,
      bytes BLOB NOT NULL
    );

    CREATE TABLE snapshot (
      one INTEGER PRIMARY KEY CHECK (one = 1),
      up_to INTEGER NOT NULL,
      sha256 BLOB NOT NULL,
      bytes BLOB NOT NULL
    );

    CREATE TABLE nodes (
      id INTEGER PRIMARY KEY,
      node TEXT NOT NULL UNIQUE
    );

    CREATE TABLE topics (
      id INTEGER PRIMARY KEY,
      topic TEXT NOT NULL UNIQUE
    );

    CREATE TABLE entries (
      node_id INTEGER NOT NULL,
      seq INTEGER NOT NULL,
      at INTEGER NOT NULL,
      topic_id INTEGER NOT NULL,
      kind INTEGER NOT NULL,
      PRIMARY KEY (node_id, seq)
    ) WITHOUT ROWID;
    CREATE INDEX entries_by_time ON entries (at, node_id, seq);
    CREATE INDEX entries_by_topic ON entries (topic_id, node_id, seq);
  `)
}

/**
 * Schema 2: idempotency keys (written in the append transaction of the
 * entries they name) and named consumers' positions. Both are per node and
 * never replicated: a retry goes to the node that answered it.
 */
function addV2(db: Database.Database): void {
  db.exec(`
    CREATE TABLE idempotency (
      key TEXT PRIMARY KEY,
      request_sha256 BLOB NOT NULL,
      node_id INTEGER NOT NULL,
      seq INTEGER NOT NULL,
      count INTEGER NOT NULL
    ) WITHOUT ROWID;

    CREATE TABLE consumers (
      name TEXT PRIMARY KEY,
      cursor TEXT NOT NULL,
      acked_at INTEGER NOT NULL
    ) WITHOUT ROWID;
  `)
}

/**
 * Schema 3: a CRC-32 per stored update. SQLite checksums nothing inside a
 * page, and a flipped byte in an update can still decode, into different
 * structs (another client, another clock) that would silently drop entries
 * and let seqs be reused. The snapshot already had its SHA-256. Updates
 * written before schema 3 keep NULL and are not checked.
 */
function addV3(db: Database.Database): void {
  db.exec('ALTER TABLE updates ADD COLUMN crc32 INTEGER')
}

/**
 * Schema 4: the snapshot as parts that compactions add to, one row each
 * with its SHA-256, where schema 3 kept one blob that every compaction
 * rewrote (seconds of writing at a million entries, commits waiting).
 * The old blob becomes the first part; the update id it covers moves to
 * meta.snapshot_up_to.
 */
function addV4(db: Database.Database): void {
  db.exec(`
    CREATE TABLE snapshot_parts (
      id INTEGER PRIMARY KEY,
      sha256 BLOB NOT NULL,
      bytes BLOB NOT NULL
    );
    INSERT INTO snapshot_parts (sha256, bytes) SELECT sha256, bytes FROM snapshot;
    INSERT INTO meta (key, value) VALUES ('snapshot_up_to', coalesce((SELECT up_to FROM snapshot), 0));
    DROP TABLE snapshot;
  `)
}

/**
 * Schema 5: a transition's subject, interned, on its index row, and a
 * partial index over those rows only, so the history of one work item is a
 * lookup instead of a scan of every transition (events and gaps add a NULL,
 * one byte). Rows written before schema 5 get their subjects here, from the
 * stored document itself: a one-time replay (seconds at a million entries).
 */
function addV5(db: Database.Database): void {
  db.exec(`
    CREATE TABLE subjects (
      id INTEGER PRIMARY KEY,
      subject TEXT NOT NULL UNIQUE
    );
    ALTER TABLE entries ADD COLUMN subject_id INTEGER;
    CREATE INDEX entries_by_subject ON entries (subject_id, at) WHERE subject_id IS NOT NULL;
  `)
  const hasTransitions = db.prepare(`SELECT 1 FROM entries WHERE kind = ${KIND_CODES.transition} LIMIT 1`).get() !== undefined
  if (hasTransitions) backfillSubjects(db)
}

function backfillSubjects(db: Database.Database): void {
  const doc = new LogDoc()
  const parts = db.prepare('SELECT bytes FROM snapshot_parts ORDER BY id').pluck().all() as Uint8Array[]
  if (parts.length > 0) doc.loadTrusted(parts, 'v2')
  const upTo = (db.prepare("SELECT value FROM meta WHERE key = 'snapshot_up_to'").pluck().get() as number | undefined) ?? 0
  for (const update of db.prepare('SELECT bytes FROM updates WHERE id > ? ORDER BY id').pluck().iterate(upTo) as Iterable<Uint8Array>)
    doc.loadTrusted(update)
  const intern = db
    .prepare('INSERT INTO subjects (subject) VALUES (?) ON CONFLICT (subject) DO UPDATE SET subject = subject RETURNING id')
    .pluck()
  const set = db.prepare('UPDATE entries SET subject_id = ? WHERE node_id = (SELECT id FROM nodes WHERE node = ?) AND seq = ?')
  for (const entry of doc.entries()) {
    if (entry.kind === 'transition') set.run(intern.get(entry.data.subject) as number, entry.node, entry.seq)
  }
}

/**
 * Schema 6: an index over gap entries only (partial, a few rows), so naming
 * every loss in a log is a lookup: a kind filter otherwise scans every row
 * of the node (45 ms at a million entries). Queries write the kind as a
 * literal, which is what lets SQLite use a partial index.
 */
function addV6(db: Database.Database): void {
  db.exec(`CREATE INDEX entries_gaps ON entries (node_id, seq) WHERE kind = ${KIND_CODES.gap}`)
}

/**
 * Schema 7: a named consumer's filter (a topic, a kind, or both), kept with
 * its position so its `behind` counts what it reads. NULL reads everything,
 * which is what every consumer stored before schema 7 did.
 */
function addV7(db: Database.Database): void {
  db.exec('ALTER TABLE consumers ADD COLUMN topic TEXT; ALTER TABLE consumers ADD COLUMN kind TEXT;')
}

/**
 * Schema 8: a random id for the store (meta.store_id), written into the
 * header of its append journal, so a journal left beside a database that
 * was replaced or removed is never taken for that database's.
 */
function addV8(db: Database.Database): void {
  db.prepare("INSERT OR IGNORE INTO meta (key, value) VALUES ('store_id', ?)").run(randomBytes(6).readUIntBE(0, 6))
}

/** The store's id (schema 8). */
export const SELECT_STORE_ID = "SELECT value FROM meta WHERE key = 'store_id'"

/**
 * `migrations[v]` upgrades a store from schema v to v + 1 (v = 0 is an empty
 * file). A new schema is one function appended here and SCHEMA_VERSION bumped.
 */
const migrations: readonly Migration[] = [createV1, addV2, addV3, addV4, addV5, addV6, addV7, addV8]

if (migrations.length !== SCHEMA_VERSION) throw new Error(`schema.ts: ${migrations.length} migrations for schema version ${SCHEMA_VERSION}`)

/** Brings the store from `from` up to SCHEMA_VERSION in one transaction, so a crash never leaves a half-migrated file. */
export function migrate(db: Database.Database, from: number): void {
  if (from >= SCHEMA_VERSION) return
  db.transaction(() => {
    for (let v = from; v < SCHEMA_VERSION; v++) (migrations[v] as Migration)(db)
    // Header fields live on page 1, so they commit (or roll back) with the tables.
    db.pragma(`application_id = ${APPLICATION_ID}`)
    db.pragma(`user_version = ${SCHEMA_VERSION}`)
  })()
}
