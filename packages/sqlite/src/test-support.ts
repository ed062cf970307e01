// Helpers shared by this package's tests.
import { randomBytes } from 'node:crypto'
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { expect } from 'vitest'
import { LogDoc, YlogError, type DurableLog, type NodeIdentity, type NodeStore, type YlogErrorCode } from '@ylog/core'
import { SqliteUpdateStore } from './index.js'

/** Temporary directories for store files; `cleanup` removes them (call it from afterAll). */
export function tempPaths(): { freshPath(name?: string): string; cleanup(): void } {
  const dirs: string[] = []
  return {
    freshPath(name = 'log.db') {
      const dir = mkdtempSync(join(tmpdir(), 'ylog-sqlite-'))
      dirs.push(dir)
      return join(dir, name)
    },
    cleanup() {
      for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
    },
  }
}

export async function expectStoreError(action: () => unknown, code: YlogErrorCode, pattern: RegExp): Promise<YlogError> {
  let thrown: unknown
  try {
    await action()
  } catch (err) {
    thrown = err
  }
  expect(thrown).toBeInstanceOf(YlogError)
  const err = thrown as YlogError
  expect(err.code).toBe(code)
  expect(err.message).toMatch(pattern)
  return err
}

/** Collects the updates a writer produces, to feed them into another log as a peer would. */
export function writer(identity: NodeIdentity, now: () => number): { doc: LogDoc; updates: Uint8Array[] } {
  const doc = new LogDoc({ identity, now })
  const updates: Uint8Array[] = []
  doc.onUpdate((u) => updates.push(u))
  return { doc, updates }
}

export async function appendEntries(durable: DurableLog, count: number, topic = (i: number) => `t${i % 3}`): Promise<void> {
  await Promise.all(
    Array.from({ length: count }, (_, i) =>
      durable.append({ topic: topic(i), kind: 'event', data: { i, pad: randomBytes(100).toString('hex') } }),
    ),
  )
}

/** Turns a schema 7 file back into schema 6 (consumers without filters), as a store written by the code before schema 7. */
export function downgradeToSchema6(db: Database.Database): void {
  db.exec('ALTER TABLE consumers DROP COLUMN topic; ALTER TABLE consumers DROP COLUMN kind')
  db.pragma('user_version = 6')
}

/** Turns a schema 7 file back into schema 4 (no subjects on index rows, no gap index), as a store written by the code before schema 5. */
export function downgradeToSchema4(db: Database.Database): void {
  downgradeToSchema6(db)
  db.exec('DROP INDEX entries_gaps; DROP INDEX entries_by_subject; ALTER TABLE entries DROP COLUMN subject_id; DROP TABLE subjects')
  db.pragma('user_version = 4')
}

/** Turns a schema 5 file back into schema 3 (one snapshot blob), as a store written by the code before schema 4. */
export function downgradeToSchema3(db: Database.Database): void {
  downgradeToSchema4(db)
  const parts = db.prepare('SELECT sha256, bytes FROM snapshot_parts ORDER BY id').all() as Array<{ sha256: Buffer; bytes: Buffer }>
  if (parts.length > 1) throw new Error('a schema 3 snapshot is one blob: compact this store once, into one part')
  const upTo = db.prepare("SELECT value FROM meta WHERE key = 'snapshot_up_to'").pluck().get() as number
  db.exec(`
    CREATE TABLE snapshot (one INTEGER PRIMARY KEY CHECK (one = 1), up_to INTEGER NOT NULL, sha256 BLOB NOT NULL, bytes BLOB NOT NULL);
    DROP TABLE snapshot_parts;
    DELETE FROM meta WHERE key = 'snapshot_up_to';
  `)
  const part = parts[0]
  if (part !== undefined)
    db.prepare('INSERT INTO snapshot (one, up_to, sha256, bytes) VALUES (1, ?, ?, ?)').run(upTo, part.sha256, part.bytes)
  db.pragma('user_version = 3')
}

export async function reload(path: string): Promise<Awaited<ReturnType<NodeStore['load']>>> {
  const store = SqliteUpdateStore.open(path)
  try {
    return await store.load()
  } finally {
    await store.close()
  }
}

/**
 * What a crash now would leave of the store at `path`, as a new store file
 * (its path returned): the database as committed (SQLite's online backup)
 * and the append journal as it is on disk.
 */
export async function crashImage(path: string, image: string): Promise<string> {
  const db = new Database(path, { readonly: true })
  await db.backup(image)
  db.close()
  copyFileSync(`${path}-appends`, `${image}-appends`)
  return image
}
