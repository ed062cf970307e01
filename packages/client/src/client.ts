import { errorFromFetch, errorFromResponse, YlogClientError } from './errors.js'
import { streamEvents, type StreamItem, type StreamOptions } from './stream.js'
import type {
  AckOptions,
  BackwardsPage,
  Consumer,
  ContextAnswer,
  ContextQuery,
  Entry,
  EntryInput,
  Heads,
  Nodes,
  Page,
  ReadQuery,
  Receipt,
  TopicView,
} from './types.js'

export const DEFAULT_URL = 'http://127.0.0.1:4747'

export interface ClientOptions {
  /** The node's address; default `YLOG_URL` from the environment, else http://127.0.0.1:4747. */
  url?: string
  /** Bearer token for a node started with --write-token or --read-token; default `YLOG_TOKEN`. */
  token?: string
  /** Per request, in ms (default 30 s); the event stream has none. */
  timeoutMs?: number
  /** A fetch to use instead of the global one (tests, proxies). */
  fetch?: typeof fetch
}

export interface WriteOptions {
  /** 1-255 visible ASCII characters: a retry with the same key and body writes nothing and answers the first answer again. */
  idempotencyKey?: string
}

type Query = Record<string, string | number | undefined>

/**
 * A typed client for one ylog node's HTTP API, on Node's fetch. Every
 * failure is a YlogClientError carrying the node's error code (see
 * `isTransient` for which ones a retry can fix).
 */
export class YlogClient {
  readonly url: string
  readonly #token: string | undefined
  readonly #timeoutMs: number
  readonly #fetch: typeof fetch

  constructor(options: ClientOptions = {}) {
    const env = typeof process === 'undefined' ? {} : process.env
    this.url = (options.url ?? nonEmpty(env.YLOG_URL) ?? DEFAULT_URL).replace(/\/+$/, '')
    this.#token = options.token ?? nonEmpty(env.YLOG_TOKEN)
    this.#timeoutMs = options.timeoutMs ?? 30_000
    this.#fetch = options.fetch ?? fetch
  }

  /** Appends one entry; resolves once it is committed. */
  append(input: EntryInput, options: WriteOptions = {}): Promise<Receipt> {
    return this.#call<Receipt>('POST', '/api/events', {}, input, options.idempotencyKey)
  }

  /** Appends 1-1000 entries in one commit, all or none. */
  async appendBatch(inputs: readonly EntryInput[], options: WriteOptions = {}): Promise<Receipt[]> {
    return (await this.#call<{ entries: Receipt[] }>('POST', '/api/events/batch', {}, inputs, options.idempotencyKey)).entries
  }

  /**
   * Appends a batch under an Idempotency-Key and says whether the node had
   * already committed it (`replayed`: the same key and body were seen before,
   * nothing was written again). What a forwarder needs to count duplicates.
   */
  async appendBatchOnce(inputs: readonly EntryInput[], idempotencyKey: string): Promise<{ entries: Receipt[]; replayed: boolean }> {
    const res = await this.#send('POST', '/api/events/batch', {}, inputs, idempotencyKey)
    const { entries } = await this.#parse<{ entries: Receipt[] }>(res, 'POST /api/events/batch')
    return { entries, replayed: res.headers.get('idempotent-replayed') === 'true' }
  }

  /** One page of committed entries in (node, seq) order; pass `next` as `after` to continue. */
  read(query: ReadQuery = {}): Promise<Page> {
    return this.#call<Page>('GET', '/api/events', { ...query })
  }

  /** The newest `last` entries (by time across nodes, 1-1000), oldest first; `next` continues live, `prev` pages back. */
  last(last: number, query: Pick<ReadQuery, 'topic' | 'kind'> = {}): Promise<BackwardsPage> {
    return this.#call<BackwardsPage>('GET', '/api/events', { last, ...query })
  }

  /** The `limit` entries before a `prev` position (of `last` or an earlier `before`), oldest first. */
  before(prev: string, query: Pick<ReadQuery, 'topic' | 'kind' | 'limit'> = {}): Promise<BackwardsPage> {
    return this.#call<BackwardsPage>('GET', '/api/events', { before: prev, ...query })
  }

  /** Every committed entry from `after` to the end as it is now, page by page. */
  async *readAll(query: ReadQuery = {}): AsyncGenerator<Entry, string, undefined> {
    let after = query.after
    for (;;) {
      const page = await this.read({ ...query, after, limit: query.limit ?? 1000 })
      for (const entry of page.entries) yield entry
      if (page.entries.length === 0 || page.next === after) return page.next
      after = page.next
    }
  }

  /** One entry; NOT_FOUND when this node holds no such entry. */
  get(node: string, seq: number): Promise<Entry> {
    return this.#call<Entry>('GET', `/api/events/${encodeURIComponent(node)}/${seq}`)
  }

  heads(): Promise<Heads> {
    return this.#call<Heads>('GET', '/api/heads')
  }

  nodes(): Promise<Nodes> {
    return this.#call<Nodes>('GET', '/api/nodes')
  }

  /** Each topic with its entry count and latest entry. */
  async topics(): Promise<TopicView[]> {
    return (await this.#call<{ topics: TopicView[] }>('GET', '/api/topics')).topics
  }

  consumer(name: string): Promise<Consumer> {
    return this.#call<Consumer>('GET', `/api/consumers/${encodeURIComponent(name)}`)
  }

  /**
   * Stores a consumer's cursor; it only moves forward unless `rewind` says to move it back. `topic`/`kind` set its filter (null
   * clears one, absent keeps it); `behind` then counts only what the filter selects.
   */
  ack(name: string, cursor: string, options: AckOptions = {}): Promise<Consumer> {
    const body: { cursor: string } & AckOptions = { cursor }
    if (options.rewind === true) body.rewind = true
    if (options.topic !== undefined) body.topic = options.topic
    if (options.kind !== undefined) body.kind = options.kind
    return this.#call<Consumer>('PUT', `/api/consumers/${encodeURIComponent(name)}`, {}, body)
  }

  /**
   * `GET /api/context`: entries as text for a language model within a token budget, with a manifest of what is in it and what is
   * missing.
   */
  context(query: ContextQuery = {}): Promise<ContextAnswer> {
    const list = (v: readonly string[] | undefined): string | undefined => (v === undefined ? undefined : v.join(','))
    const { topics, kinds, nodes, ...rest } = query
    return this.#call<ContextAnswer>('GET', '/api/context', { ...rest, topic: list(topics), kind: list(kinds), node: list(nodes) })
  }

  /** The event stream as an async iterator (history from `after`, then live); see StreamOptions. */
  stream(options: StreamOptions = {}): AsyncGenerator<StreamItem, void, undefined> {
    return streamEvents({ url: this.url, headers: this.#headers(), fetch: this.#fetch }, options)
  }

  /** `GET /readyz`: undefined when the node takes writes, else why not. */
  async notReady(): Promise<string | undefined> {
    const res = await this.#send('GET', '/readyz')
    if (res.ok) return undefined
    const body = (await res.json().catch(() => ({}))) as { reason?: string }
    return body.reason ?? `HTTP ${res.status}`
  }

  #headers(): Record<string, string> {
    return this.#token === undefined ? {} : { authorization: `Bearer ${this.#token}` }
  }

  async #send(method: string, path: string, query: Query = {}, body?: unknown, idempotencyKey?: string): Promise<Response> {
    const search = new URLSearchParams()
    for (const [key, value] of Object.entries(query)) if (value !== undefined) search.set(key, String(value))
    const url = `${this.url}${path}${search.size === 0 ? '' : `?${search}`}`
    const headers = this.#headers()
    if (body !== undefined) headers['content-type'] = 'application/json'
    if (idempotencyKey !== undefined) headers['idempotency-key'] = idempotencyKey
    const signal = AbortSignal.timeout(this.#timeoutMs)
    try {
      return await this.#fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal })
    } catch (err) {
      throw errorFromFetch(err, `${method} ${path}`, signal.aborted, this.url)
    }
  }

  async #call<T>(method: string, path: string, query: Query = {}, body?: unknown, idempotencyKey?: string): Promise<T> {
    return this.#parse<T>(await this.#send(method, path, query, body, idempotencyKey), `${method} ${path}`)
  }

  async #parse<T>(res: Response, what: string): Promise<T> {
    if (!res.ok) throw await errorFromResponse(res, what)
    try {
      return (await res.json()) as T
    } catch (err) {
      // A body cut off mid-way is a broken connection (a retry may help), not a node that answers nonsense.
      if ((err as Error).name !== 'SyntaxError') throw errorFromFetch(err, what, false)
      throw new YlogClientError('BAD_RESPONSE', `${what}: the answer is not JSON`, { status: res.status, cause: err })
    }
  }
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value
}
