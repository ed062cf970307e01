/**
 * Every error ylog raises on purpose is a YlogError with a stable `code`, so
 * callers (the HTTP layer, the CLI, a worker's parent) map it to a status or
 * an exit code without parsing messages. Messages name the field, the value
 * and what to do. The codes, with what each means, are this one table; the
 * node maps each to an HTTP status in one table of its own.
 */
export const ERROR_CODES = {
  // An entry a writer asked for, refused.
  BAD_TOPIC: 'the topic is empty, too long, or has characters outside A-Z a-z 0-9 . _ : / -',
  BAD_KIND: 'the kind is not transition, event or gap',
  BAD_DATA: 'the data does not fit the kind, or is not plain JSON',
  BAD_TIME: 'a time is not milliseconds since the epoch, or lies too far ahead of the clock',
  ENTRY_TOO_LARGE: 'the signed entry would exceed 64 KiB',
  // Bytes from elsewhere that are not what they claim.
  MALFORMED_ENTRY: 'bytes that do not decode as an entry',
  BAD_SIGNATURE: 'a signature that does not verify',
  BAD_KEY: 'a key file or key bytes of the wrong form',
  KEY_FILE: 'the key file cannot be read or written',
  BAD_CURSOR: 'a cursor string that does not decode',
  BAD_ARGUMENT: 'an argument out of range or of the wrong form',
  NOT_MEMBER: 'a node that is not a member of the log',
  BROKEN_CHAIN: "entries that do not continue their node's chain: a missing seq, a wrong prev hash, time going back",
  FORKED: 'a validly signed entry that differs from the one held for its (node, seq): the node forked',
  OWN_ENTRIES: "entries of a running node's own chain that it does not hold (restore them into its stopped data directory)",
  // The log's own state.
  CLOSED: 'the log, the store or the queue is closed',
  INGEST_FULL: 'the ingest queue is full and the event was dropped (recorded in a gap entry)',
  CHAIN_MISMATCH: "the signer's chain and the log's head disagree (a bug)",
  SIGNER_FAILED: 'the signing thread failed or exited',
  STORE_FAILED:
    'the store could not write or read, for a reason that does not pass by itself (permissions, a failed fsync, a read-only file)',
  STORE_FULL: 'the disk is full: writes are refused until space returns, and the node retries by itself',
  STORE_IO: 'a read or write failed with an I/O error that may pass: the node retries by itself',
  STORE_CORRUPT: 'the stored bytes are damaged or incomplete',
  NOT_A_STORE: 'the file is not a ylog store (or not SQLite at all)',
  STORE_TOO_NEW: 'the store was written by a newer ylog',
  STORE_TOO_OLD: 'the store has an older schema, which only a node can upgrade (a reader from outside writes nothing)',
  STORE_REPLACED: 'the store file was replaced or cut back while it was being read from outside',
  // The HTTP API's own refusals.
  BAD_REQUEST: 'the request does not match the API (a missing, unknown or mistyped field)',
  BAD_JSON: 'the body is empty or not JSON',
  BAD_URL: 'the URL has malformed percent-escapes',
  BAD_CONSUMER: 'a consumer name outside 1-128 characters of A-Z a-z 0-9 . _ -',
  CURSOR_AHEAD: 'an ack past what this node holds',
  CURSOR_BACKWARDS: "an ack behind the consumer's position",
  BAD_IDEMPOTENCY_KEY: 'an Idempotency-Key header that is not 1-255 visible ASCII characters',
  IDEMPOTENCY_CONFLICT: 'an Idempotency-Key used before with a different request',
  UNAUTHORIZED: 'the bearer token is missing or wrong',
  NOT_FOUND: 'no such route or entry',
  METHOD_NOT_ALLOWED: 'the route does not take that method',
  REQUEST_TIMEOUT: 'the request did not arrive in time',
  BODY_TOO_LARGE: 'the body exceeds 1 MiB',
  HEADERS_TOO_LARGE: 'the request headers are too large',
  UNSUPPORTED_MEDIA_TYPE: 'the body is not application/json',
  INTERNAL: 'an unexpected failure; the node logged the details',
  // Starting a node.
  CONFIG: 'a setting from a flag, a variable or the config file is unusable',
  DATA_DIR: 'the data directory cannot be created or used',
  LOCKED: 'another live process holds the data directory',
  ADDRESS_IN_USE: 'the port is taken',
  NO_PERMISSION: 'the port or a file needs privileges the process lacks',
  NO_ADDRESS: 'the host is not an address of this machine',
  NO_STORE: 'there is no store to check in the data directory',
  // Sync.
  PROTOCOL: 'a sync message that does not follow the protocol',
  // Seen by clients (@ylog/client, the CLI), never answered by a node.
  NETWORK: 'the node could not be reached, or the connection broke before the answer',
  TIMEOUT: 'the node did not answer in time',
  BAD_RESPONSE: 'an answer that is not what the API describes (another server, or a proxy in between)',
  LAGGED: 'an event stream with onLag=close fell behind and was ended instead of skipping entries',
} as const satisfies Record<string, string>

export type YlogErrorCode = keyof typeof ERROR_CODES

/** An error as it crosses a worker thread: structured clone keeps plain data only. */
export interface WireError {
  code: string
  message: string
}

export class YlogError extends Error {
  readonly code: YlogErrorCode

  constructor(code: YlogErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'YlogError'
    this.code = code
  }

  static isCode(code: unknown): code is YlogErrorCode {
    return typeof code === 'string' && Object.hasOwn(ERROR_CODES, code)
  }
}

/** Any thrown value as plain data for postMessage; a code that is not ylog's becomes `fallback`. */
export function toWire(err: unknown, fallback: YlogErrorCode): WireError {
  const code = (err as { code?: unknown } | null)?.code
  return { code: YlogError.isCode(code) ? code : fallback, message: err instanceof Error ? err.message : String(err) }
}

/** The YlogError a worker sent with `toWire`. */
export function fromWire(wire: WireError): YlogError {
  return new YlogError(YlogError.isCode(wire.code) ? wire.code : 'INTERNAL', wire.message)
}
