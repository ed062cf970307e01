import { createParser, type EventSourceMessage } from 'eventsource-parser'
import type { YlogErrorCode } from '@ylog/core/errors'
import { errorFromFetch, errorFromResponse, isTransient, YlogClientError } from './errors.js'
import type { Entry, EntryKind } from './types.js'

/** One item of the event stream: an entry, or entries this reader missed (it read too slowly). */
export type StreamItem =
  | { type: 'entry'; entry: Entry; cursor: string }
  /** Entries of `node` with from <= seq <= to were dropped for this reader; re-read them with `read`. */
  | { type: 'gap'; node: string; from: number; to: number; cursor: string }

export interface StreamOptions {
  /** A cursor to start after, or 'now' for entries committed from now on; default the start of the log. */
  after?: string
  topic?: string
  kind?: EntryKind
  /** Entries the node holds for this reader while it is slow, 1-100000 (default 1024). */
  buffer?: number
  /** What the node does when this reader falls behind: announce a gap and go on (default), or end with LAGGED. */
  onLag?: 'gap' | 'close'
  /** Reconnect after a dropped connection or a transient refusal, resuming after the last item (default true). */
  reconnect?: boolean
  /** First wait before reconnecting, doubled up to 5 s (default 200 ms). */
  retryDelayMs?: number
  signal?: AbortSignal
}

export interface StreamTransport {
  url: string
  headers: Record<string, string>
  fetch: typeof fetch
}

const MAX_RETRY_MS = 5000

/**
 * Follows `GET /api/events/stream` as an async iterator. Every event's id is
 * the cursor after it; after a dropped connection the stream reconnects with
 * `Last-Event-ID` set to the last one seen, so nothing is lost or repeated.
 * Ends when `signal` aborts or the loop breaks; throws a YlogClientError for
 * a refusal that a retry cannot fix, and LAGGED when `onLag: 'close'` ends it.
 */
export async function* streamEvents(transport: StreamTransport, options: StreamOptions = {}): AsyncGenerator<StreamItem, void, undefined> {
  const { reconnect = true, retryDelayMs = 200, signal } = options
  const query = new URLSearchParams()
  if (options.after !== undefined) query.set('after', options.after)
  if (options.topic !== undefined) query.set('topic', options.topic)
  if (options.kind !== undefined) query.set('kind', options.kind)
  if (options.buffer !== undefined) query.set('buffer', String(options.buffer))
  if (options.onLag !== undefined) query.set('onLag', options.onLag)
  const url = `${transport.url}/api/events/stream${query.size === 0 ? '' : `?${query}`}`
  let lastId: string | undefined
  let delay = retryDelayMs
  // A function, not a property read: the compiler would take `aborted` as fixed across the awaits.
  const aborted = (): boolean => signal?.aborted === true
  while (!aborted()) {
    const controller = new AbortController()
    const stop = (): void => controller.abort()
    signal?.addEventListener('abort', stop, { once: true })
    try {
      for await (const item of connect(transport, url, lastId, controller.signal, (id) => (lastId = id))) {
        delay = retryDelayMs
        yield item
      }
    } catch (err) {
      if (aborted()) return
      const error = errorFromFetch(err, 'event stream', false)
      if (!reconnect || !isTransient(error)) throw error
    } finally {
      signal?.removeEventListener('abort', stop)
      controller.abort()
    }
    if (!reconnect || aborted()) return
    await sleep(delay, signal)
    delay = Math.min(MAX_RETRY_MS, delay * 2)
  }
}

/** One connection: yields its items until the body ends (then a reconnect follows) or fails. */
async function* connect(
  transport: StreamTransport,
  url: string,
  lastId: string | undefined,
  signal: AbortSignal,
  onId: (id: string) => void,
): AsyncGenerator<StreamItem> {
  const headers: Record<string, string> = { ...transport.headers, accept: 'text/event-stream' }
  if (lastId !== undefined) headers['last-event-id'] = lastId
  const res = await transport.fetch(url, { headers, signal })
  if (!res.ok) throw await errorFromResponse(res, 'event stream')
  if (res.body === null) throw new YlogClientError('BAD_RESPONSE', 'event stream: the answer has no body', { status: res.status })
  const pending: StreamItem[] = []
  let failure: YlogClientError | undefined
  const parser = createParser({
    onEvent: (message) => {
      const item = toItem(message)
      if (item instanceof YlogClientError) failure ??= item
      else if (item !== undefined) pending.push(item)
    },
    // The node names the position it starts from in its first comment, so a stream that drops before its first event resumes there.
    onComment: (comment) => {
      const start = /^ylog stream after=(\S+)$/.exec(comment)?.[1]
      if (start !== undefined && lastId === undefined) onId(start)
    },
  })
  const decoder = new TextDecoder()
  for await (const chunk of res.body) {
    parser.feed(decoder.decode(chunk, { stream: true }))
    for (const item of pending.splice(0)) {
      onId(item.cursor)
      yield item
    }
    if (failure !== undefined) throw failure
  }
}

function toItem(message: EventSourceMessage): StreamItem | YlogClientError | undefined {
  const cursor = message.id ?? ''
  let data: unknown
  try {
    data = JSON.parse(message.data)
  } catch {
    return new YlogClientError('BAD_RESPONSE', `event stream: an event's data is not JSON: ${message.data.slice(0, 100)}`)
  }
  switch (message.event) {
    case 'entry':
      return { type: 'entry', entry: data as Entry, cursor }
    case 'gap': {
      const { node, from, to } = data as { node: string; from: number; to: number }
      return { type: 'gap', node, from, to, cursor }
    }
    case 'error': {
      const { code, message: text } = (data as { error: { code: YlogErrorCode; message: string } }).error
      return new YlogClientError(code, text)
    }
    default:
      // Event types a newer node may add are skipped, as EventSource does with unknown ones.
      return undefined
  }
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms)
    function done(): void {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    signal?.addEventListener('abort', done, { once: true })
  })
}
