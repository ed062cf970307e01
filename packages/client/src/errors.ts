import { YlogError, type YlogErrorCode } from '@ylog/core/errors'

/**
 * A failed call: the node's own error code and message when it answered
 * (`status` set), or NETWORK, TIMEOUT or BAD_RESPONSE when it did not answer
 * as the API says. The codes are the node's vocabulary (`ERROR_CODES` of
 * @ylog/core), so `err.code === 'IDEMPOTENCY_CONFLICT'` means the same on
 * both sides.
 */
export class YlogClientError extends YlogError {
  /** The HTTP status, when the node answered. */
  readonly status: number | undefined
  /** The wait the node asked for (`Retry-After`), in ms. */
  readonly retryAfterMs: number | undefined

  constructor(code: YlogErrorCode, message: string, options: { status?: number; retryAfterMs?: number; cause?: unknown } = {}) {
    super(code, message, { cause: options.cause })
    this.name = 'YlogClientError'
    this.status = options.status
    this.retryAfterMs = options.retryAfterMs
  }
}

/** Codes after which the same request can succeed later: the node was busy, restarting or unreachable. */
const TRANSIENT_CODES: ReadonlySet<YlogErrorCode> = new Set([
  'NETWORK',
  'TIMEOUT',
  'REQUEST_TIMEOUT',
  'INGEST_FULL',
  'CLOSED',
  'STORE_FAILED',
  'STORE_FULL',
  'STORE_IO',
  'SIGNER_FAILED',
])

/**
 * Whether retrying the same request can help: a network error or timeout,
 * 408, 429 with `Retry-After`, 503 INGEST_FULL / CLOSED / STORE_FAILED (a
 * restarted node takes writes again). Never a refusal of the request itself
 * (400, 401, 403, 404, 409, 413, 415): sending it again gets the same answer.
 * A write retried after a transient error should carry an `Idempotency-Key`,
 * or it may be written twice.
 */
export function isTransient(err: unknown): boolean {
  if (!(err instanceof YlogClientError)) return false
  if (err.status === 429) return err.retryAfterMs !== undefined
  if (err.status === 408) return true
  return TRANSIENT_CODES.has(err.code)
}

/** The error a non-2xx answer stands for, from its `{"error":{"code","message"}}` body. */
export async function errorFromResponse(res: Response, what: string): Promise<YlogClientError> {
  const retryAfterMs = parseRetryAfter(res.headers.get('retry-after'))
  const text = await res.text().catch(() => '')
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    body = undefined
  }
  const error = (body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error
  const options = { status: res.status, retryAfterMs }
  if (error !== undefined && typeof error.message === 'string') {
    // A code from a newer node that this client does not know keeps its text in the message.
    const code = YlogError.isCode(error.code) ? error.code : 'BAD_RESPONSE'
    const message = code === error.code ? error.message : `${String(error.code)}: ${error.message}`
    return new YlogClientError(code, message, options)
  }
  // Not the node's own answer (a proxy, another server): a 502/503/504 in front of a node is still worth a retry.
  const code: YlogErrorCode =
    res.status === 503 ? 'CLOSED' : res.status === 502 ? 'NETWORK' : res.status === 504 ? 'TIMEOUT' : 'BAD_RESPONSE'
  return new YlogClientError(
    code,
    `${what}: HTTP ${res.status} without an error body${text === '' ? '' : `: ${text.slice(0, 200)}`}`,
    options,
  )
}

/** Socket errors in words, with what to check; others are shown by their code. */
const REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused (is a node running there?)',
  ENOTFOUND: 'no such host',
  EAI_AGAIN: 'the host name could not be resolved now',
  EHOSTUNREACH: 'the host cannot be reached',
  ENETUNREACH: 'the network cannot be reached',
  ECONNRESET: 'the connection was reset',
  UND_ERR_SOCKET: 'the connection broke',
}

/**
 * A fetch that threw: the node was never reached, the connection broke, or
 * the call timed out. `url` (the node's) is named in the message.
 */
export function errorFromFetch(err: unknown, what: string, timedOut: boolean, url?: string): YlogClientError {
  if (err instanceof YlogClientError) return err
  const where = url === undefined ? what : `${what} at ${url}`
  if (timedOut) return new YlogClientError('TIMEOUT', `${where}: no answer in time`, { cause: err })
  const cause = (err as { cause?: { code?: string; message?: string } } | undefined)?.cause
  const detail = cause?.code ?? cause?.message ?? (err as Error).message
  return new YlogClientError('NETWORK', `${where}: ${REASONS[detail] ?? detail}`, { cause: err })
}

function parseRetryAfter(header: string | null): number | undefined {
  if (header === null) return undefined
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1000
  const at = Date.parse(header)
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now())
}
