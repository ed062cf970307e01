import { YlogError } from '@ylog/core'
import { RESTORE_ADVICE } from '@ylog/core/internal'

export { RESTORE_ADVICE }

/** True for better-sqlite3 errors that mean the bytes on disk are wrong, not that the disk or the caller is. */
export function isCorruption(err: unknown): boolean {
  const code = codeOf(err)
  return code !== undefined && (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB')
}

/**
 * Failures that can pass without anyone touching the file: the disk filled
 * up (space can return), the file was locked for a moment, or a read or
 * write hit an I/O error. Not a failed fsync (SQLITE_IOERR_FSYNC): after
 * one, the kernel may have dropped the pages it could not write while
 * marking them clean, so what this connection believes is on disk may not
 * be; only a restart, which reads the WAL back, knows. Not permissions or a
 * read-only file: those need an operator.
 */
export function passableKind(err: unknown): 'STORE_FULL' | 'STORE_IO' | undefined {
  const code = codeOf(err)
  if (code === undefined) return undefined
  // SHMSIZE: the -shm index could not be allocated, which a reader needs too; on a full disk that is how opening fails.
  if (code === 'SQLITE_FULL' || code === 'ENOSPC' || code === 'EDQUOT' || code === 'SQLITE_IOERR_SHMSIZE') return 'STORE_FULL'
  if (code === 'SQLITE_IOERR_FSYNC' || code === 'SQLITE_IOERR_DIR_FSYNC' || code === 'SQLITE_IOERR_ACCESS') return undefined
  if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED' || code === 'EIO' || code === 'EAGAIN') return 'STORE_IO'
  if (code === 'SQLITE_IOERR' || code === 'SQLITE_IOERR_WRITE' || code === 'SQLITE_IOERR_READ' || code === 'SQLITE_IOERR_SHORT_READ')
    return 'STORE_IO'
  return undefined
}

/**
 * Maps whatever an operation threw to a YlogError naming the file, so
 * callers see STORE_CORRUPT (restore or resync) apart from STORE_FULL and
 * STORE_IO (they can pass: DurableLog retries) and STORE_FAILED
 * (permissions, a failed fsync, a read-only file: an operator must act).
 */
export function storeError(file: string, doing: string, err: unknown): YlogError {
  if (err instanceof YlogError) return err
  const message = err instanceof Error ? err.message : String(err)
  const code = codeOf(err) ?? 'no code'
  if (isCorruption(err))
    return new YlogError('STORE_CORRUPT', `${file} is damaged (${doing}: ${message}); ${RESTORE_ADVICE}`, { cause: err })
  const passable = passableKind(err)
  if (passable === 'STORE_FULL') {
    return new YlogError(
      'STORE_FULL',
      `${file}: ${doing} failed: the disk is full (${code}: ${message}); free space on its file system: writes resume by themselves`,
      { cause: err },
    )
  }
  if (passable === 'STORE_IO')
    return new YlogError('STORE_IO', `${file}: ${doing} failed with an I/O error (${code}: ${message}); retrying`, { cause: err })
  return new YlogError(
    'STORE_FAILED',
    `${file}: ${doing} failed (${code}: ${message}); check permissions, the disk's health, and that no other process holds the file`,
    { cause: err },
  )
}

function codeOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | undefined)?.code
  return typeof code === 'string' ? code : undefined
}
