import { isTransient, YlogClient, YlogClientError, type Entry, type EntryKind } from '@ylog/client'
import type { TailItem } from './lines.js'

export interface SourceOptions {
  label: string
  url: string
  token?: string
  /** Entries printed first (0 for none), then, with follow, new ones live. */
  last: number
  follow: boolean
  topic?: string
  kind?: EntryKind
  /** Entries the node holds for this reader while it reads slowly; past it they are dropped and a lag item says which. */
  buffer?: number
  /** First wait before reconnecting, doubled up to 2 s. */
  retryDelayMs?: number
  signal: AbortSignal
}

export interface SourceEvents {
  item(item: TailItem): void
  /** The source answers (true) or stopped answering (false), with why. */
  presence(up: boolean, detail: string): void
}

const MAX_RETRY_MS = 2000

/**
 * One node followed by `ylog tail`: its last N entries, then its event
 * stream. The stream is resumed after a dropped connection from the cursor
 * of the last item, so nothing repeats and nothing is missed; before
 * resuming, the node is checked against what this source already delivered
 * (same node at the URL, heads not shorter, same hash at the last seq of
 * each node), and a source that fails the check is reset: a marker, then
 * its last N again.
 */
export class NodeSource {
  readonly #o: SourceOptions
  readonly #client: YlogClient
  readonly #events: SourceEvents
  /** Per node, the last seq this source delivered and its hash: what a reset would contradict. */
  #delivered = new Map<string, { seq: number; hash: string }>()
  #self: string | undefined
  #cursor: string | undefined
  #up = false

  constructor(options: SourceOptions, events: SourceEvents) {
    this.#o = options
    this.#events = events
    this.#client = new YlogClient({ url: options.url, token: options.token, timeoutMs: 5000 })
  }

  async run(): Promise<void> {
    const { signal } = this.#o
    let delay = this.#o.retryDelayMs ?? 100
    while (!signal.aborted) {
      try {
        await this.#connect()
        delay = this.#o.retryDelayMs ?? 100
        if (!this.#o.follow) return
        await this.#stream()
        if (signal.aborted) return
        throw new YlogClientError('NETWORK', 'the stream ended')
      } catch (err) {
        if (signal.aborted) return
        if (!isTransient(err)) throw err
        this.#down((err as Error).message)
      }
      await sleep(delay, signal)
      delay = Math.min(MAX_RETRY_MS, delay * 2)
    }
  }

  /** First contact, or a reconnect: checks for a reset, then tails the last N when there is no cursor to go on from. */
  async #connect(): Promise<void> {
    const self = (await this.#client.nodes()).self
    const reason = this.#cursor === undefined ? undefined : await this.#resetReason(self)
    if (reason !== undefined) {
      this.#events.item({ type: 'reset', source: this.#o.label, reason })
      this.#delivered = new Map()
      this.#cursor = undefined
    }
    this.#self = self
    if (!this.#up) {
      this.#up = true
      this.#events.presence(true, this.#o.url)
    }
    if (this.#cursor !== undefined) return
    const filter = { topic: this.#o.topic, kind: this.#o.kind }
    const page = await this.#client.last(Math.max(1, this.#o.last), filter)
    const entries = this.#o.last === 0 ? [] : page.entries
    for (const entry of entries) this.#deliver(entry)
    this.#cursor = page.next
  }

  async #stream(): Promise<void> {
    const { topic, kind, buffer, signal } = this.#o
    const stream = this.#client.stream({ after: this.#cursor, topic, kind, buffer, reconnect: false, signal })
    for await (const item of stream) {
      if (item.type === 'entry') this.#deliver(item.entry)
      else this.#events.item({ type: 'lag', source: this.#o.label, node: item.node, from: item.from, to: item.to })
      this.#cursor = item.cursor
    }
  }

  #deliver(entry: Entry): void {
    const last = this.#delivered.get(entry.node)
    if (last === undefined || entry.seq >= last.seq) this.#delivered.set(entry.node, { seq: entry.seq, hash: entry.hash })
    this.#events.item({ type: 'entry', source: this.#o.label, entry })
  }

  /** Why what this source delivered is no longer in its log, or undefined when it still is. */
  async #resetReason(self: string): Promise<string | undefined> {
    if (this.#self !== undefined && self !== this.#self) {
      return `another node answers at ${this.#o.url} (${self.slice(0, 8)}, was ${this.#self.slice(0, 8)})`
    }
    const { heads } = await this.#client.heads()
    const lengths = new Map(heads.map((h) => [h.node, h.length]))
    for (const [node, { seq }] of this.#delivered) {
      const length = lengths.get(node) ?? 0
      if (length <= seq) return `shorter heads: ${node.slice(0, 8)} has ${length} entries, seq ${seq} was printed`
    }
    for (const [node, { seq, hash }] of this.#delivered) {
      const now = await this.#client.get(node, seq).catch((err: unknown) => {
        if (err instanceof YlogClientError && err.code === 'NOT_FOUND') return undefined
        throw err
      })
      if (now?.hash !== hash) return `${node.slice(0, 8)}:${seq} has another hash than the entry printed`
    }
    return undefined
  }

  #down(why: string): void {
    if (!this.#up) return
    this.#up = false
    this.#events.presence(false, why)
  }
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    signal.addEventListener('abort', done, { once: true })
  })
}
