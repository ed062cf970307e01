import { YlogError } from '@ylog/core'
import { RESTORE_ADVICE } from '@ylog/core/internal'

export { RESTORE_ADVICE }

/** True for better-sqlite3 errors that mean the bytes on disk are wrong, not that the disk or the caller is. */
export function isCorruption(err: unknown): boolean {
  const code = (err as { code?: unknown } | undefined)?.code
  return typeof code === 'string' && (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB')
}

/**
 * Maps whatever an operation threw to a YlogError naming the file, so
 * callers see STORE_CORRUPT (restore or resync) apart from STORE_FAILED
 * (disk full, permissions, locks: fix and retry).
 */
export function storeError(file: string, doing: string, err: unknown): YlogError {
  if (err instanceof YlogError) return err
  const message = err instanceof Error ? err.message : String(err)
  if (isCorruption(err)) return new YlogError('STORE_CORRUPT', `${file} is damaged (${doing}: ${message}); ${RESTORE_ADVICE}`, { cause: err })
  return new YlogError('STORE_FAILED', `${file}: ${doing} failed: ${message}; check free disk space, permissions, and that no other process holds the file`, { cause: err })
}
