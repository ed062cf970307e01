import type Database from 'better-sqlite3'
import { YlogError } from '@ylog/core'
import { APPLICATION_ID, SCHEMA_VERSION } from './schema.js'
import { RESTORE_ADVICE, storeError } from './store-errors.js'

/**
 * Decides, before anything is written, whether `db` is a ylog store this
 * code may open, and returns its schema version (0 for a new, empty file).
 * Nothing here writes: a file that belongs to someone else is left as found.
 */
export function checkStoreFile(db: Database.Database, file: string, options: { quickCheck: boolean }): number {
  let applicationId: number
  let version: number
  let tables: number
  try {
    applicationId = db.pragma('application_id', { simple: true }) as number
    version = db.pragma('user_version', { simple: true }) as number
    tables = (db.prepare("SELECT count(*) AS n FROM sqlite_schema WHERE type = 'table'").get() as { n: number }).n
  } catch (err) {
    if ((err as { code?: unknown }).code === 'SQLITE_NOTADB') {
      throw new YlogError(
        'NOT_A_STORE',
        `${file} is not a SQLite database (${(err as Error).message}); point ylog at its own data directory, or move this file ` +
          `away to start an empty store`,
        { cause: err },
      )
    }
    throw storeError(file, 'reading the database header', err)
  }
  if (applicationId !== APPLICATION_ID) {
    if (applicationId === 0 && tables === 0 && version === 0) return 0
    throw new YlogError(
      'NOT_A_STORE',
      `${file} is a SQLite database but not a ylog store (application_id ${hex(applicationId)}, ${tables} tables, expected ` +
        `application_id ${hex(APPLICATION_ID)}); choose another path for the ylog store, this file was left untouched`,
    )
  }
  if (version > SCHEMA_VERSION) {
    throw new YlogError(
      'STORE_TOO_NEW',
      `${file} was written by a newer ylog (schema ${version}); upgrade ylog to open it (this version reads schema ` +
        `${SCHEMA_VERSION} and older)`,
    )
  }
  if (options.quickCheck) {
    const problems = quickCheck(db, file)
    if (problems.length > 0)
      throw new YlogError('STORE_CORRUPT', `${file} is damaged (quick_check: ${summarize(problems)}); ${RESTORE_ADVICE}`)
  }
  return version
}

/** SQLite's structural check without the index-vs-table cross check; [] when it finds nothing. */
export function quickCheck(db: Database.Database, file: string): string[] {
  let rows: Array<{ quick_check: string }>
  try {
    rows = db.pragma('quick_check') as Array<{ quick_check: string }>
  } catch (err) {
    throw storeError(file, 'quick_check', err)
  }
  return rows.map((r) => r.quick_check).filter((r) => r !== 'ok')
}

export function summarize(problems: readonly string[]): string {
  const shown = problems.slice(0, 3).join('; ')
  return problems.length > 3 ? `${shown}; and ${problems.length - 3} more` : shown
}

function hex(n: number): string {
  return `0x${(n >>> 0).toString(16).padStart(8, '0')}`
}
