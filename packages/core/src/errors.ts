/**
 * Every error ylog throws on purpose is a YlogError with a stable `code`, so
 * callers (the HTTP layer, the CLI) can map it to a status or exit code without
 * parsing messages. Messages name the field, the value and what to do.
 */
export type YlogErrorCode =
  | 'BAD_TOPIC'
  | 'BAD_KIND'
  | 'BAD_DATA'
  | 'BAD_TIME'
  | 'ENTRY_TOO_LARGE'
  | 'MALFORMED_ENTRY'
  | 'BAD_SIGNATURE'
  | 'BAD_KEY'
  | 'KEY_FILE'
  | 'BAD_CURSOR'
  | 'BAD_ARGUMENT'
  | 'NOT_MEMBER'
  | 'CLOSED'
  | 'STORE_CORRUPT'
  | 'STORE_FAILED'
  | 'INGEST_FULL'

export class YlogError extends Error {
  readonly code: YlogErrorCode

  constructor(code: YlogErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'YlogError'
    this.code = code
  }
}
