import { existsSync, statSync } from 'node:fs'
import { join } from 'node:path'
import type { EntryKind } from '@ylog/client'
import { decodeEntry, LogDoc, peekTopicKind, YlogError, type Entry, type NodeId } from '@ylog/core'
import { StoreReader } from '@ylog/sqlite'
import { sleep, type SourceEvents } from './node-source.js'

export interface DirSourceOptions {
  label: string
  dir: string
  last: number
  follow: boolean
  topic?: string
  kind?: EntryKind
  /** How often a followed directory is read for new commits (default 200 ms). */
  pollMs?: number
  signal: AbortSignal
}

const MAX_RETRY_MS = 2000

/**
 * A data directory followed by `ylog tail`, whether a node runs on it or
 * not. Its store is read from outside (StoreReader: read-only, no lock,
 * whole commits only) into a Yjs document of this process, and every chain
 * is checked as entries arrive; then the last N entries, and with follow
 * what commits next, read every `pollMs`. A store file replaced underneath
 * (another file at the path, or one that ends before what was read) is a
 * reset: a marker, then its last N again. A directory without a store yet is
 * announced down and tried again; a damaged store or chain stops the tail.
 */
export class DirSource {
  readonly #o: DirSourceOptions
  readonly #events: SourceEvents
  #up = false

  constructor(options: DirSourceOptions, events: SourceEvents) {
    this.#o = options
    this.#events = events
  }

  async run(): Promise<void> {
    const { signal } = this.#o
    let delay = this.#o.pollMs ?? 200
    while (!signal.aborted) {
      try {
        await this.#session()
        return
      } catch (err) {
        if (signal.aborted) return
        if (!(err instanceof YlogError)) throw err
        if (err.code === 'STORE_REPLACED') {
          this.#events.item({ type: 'reset', source: this.#o.label, reason: err.message })
          continue
        }
        if (err.code !== 'NO_STORE' || !this.#o.follow) throw err
        this.#down(err.message)
      }
      await sleep(delay, signal)
      delay = Math.min(MAX_RETRY_MS, delay * 2)
    }
  }

  /** Opens the store, prints its last N, then (follow) what commits next, until aborted or the file is replaced. */
  async #session(): Promise<void> {
    const file = join(this.#o.dir, 'ylog.db')
    if (!existsSync(file)) {
      throw new YlogError('NO_STORE', `${this.#o.dir} holds no ylog.db yet: is it a node's data directory (its --data)?`)
    }
    const ino = statSync(file).ino
    const reader = StoreReader.open(file)
    try {
      const doc = new LogDoc()
      const checked = new Map<NodeId, number>()
      this.#load(doc, reader, checked)
      if (!this.#up) {
        this.#up = true
        this.#events.presence(true, this.#o.dir)
      }
      for (const entry of this.#lastEntries(doc)) this.#events.item({ type: 'entry', source: this.#o.label, entry })
      if (!this.#o.follow) return
      while (!this.#o.signal.aborted) {
        await sleep(this.#o.pollMs ?? 200, this.#o.signal)
        if (this.#o.signal.aborted) return
        if (!existsSync(file) || statSync(file).ino !== ino) {
          throw new YlogError('STORE_REPLACED', `${file} is another file than the one being read (replaced, or moved away)`)
        }
        const before = new Map(checked)
        if (!this.#load(doc, reader, checked)) continue
        const fresh: Entry[] = []
        for (const node of doc.nodes()) {
          for (let seq = before.get(node) ?? 0; seq < doc.length(node); seq++) {
            const bytes = doc.getBytes(node, seq) as Uint8Array
            if (this.#selects(bytes)) fresh.push(decodeEntry(bytes))
          }
        }
        for (const entry of fresh.sort(byTime)) this.#events.item({ type: 'entry', source: this.#o.label, entry })
      }
    } finally {
      reader.close()
    }
  }

  /** Applies what the store gained, checks every chain past what was checked; false when there was nothing new. */
  #load(doc: LogDoc, reader: StoreReader, checked: Map<NodeId, number>): boolean {
    const { snapshot, tail } = reader.read()
    if (snapshot.length === 0 && tail.length === 0) return false
    if (snapshot.length > 0) doc.loadTrusted(snapshot, 'v2')
    if (tail.length > 0) doc.loadTrusted(tail, 'v1')
    const verdict = doc.verifyChains(checked)
    if (!verdict.ok) {
      throw new YlogError('STORE_CORRUPT', `${reader.path}: node ${verdict.node} seq ${verdict.seq}: ${verdict.detail}`)
    }
    for (const node of doc.nodes()) checked.set(node, doc.length(node))
    return true
  }

  /** The newest `last` entries across nodes that pass the filters, oldest first. */
  #lastEntries(doc: LogDoc): Entry[] {
    const want = this.#o.last
    if (want === 0) return []
    const picked: Entry[] = []
    for (const node of doc.nodes()) {
      let found = 0
      for (let seq = doc.length(node) - 1; seq >= 0 && found < want; seq--) {
        const bytes = doc.getBytes(node, seq) as Uint8Array
        if (!this.#selects(bytes)) continue
        picked.push(decodeEntry(bytes))
        found++
      }
    }
    return picked.sort(byTime).slice(-want)
  }

  /** Topic and kind read in place, so that entries the filters drop are never decoded. */
  #selects(bytes: Uint8Array): boolean {
    const { topic, kind } = this.#o
    if (topic === undefined && kind === undefined) return true
    const tk = peekTopicKind(bytes)
    return (topic === undefined || tk?.topic === topic) && (kind === undefined || tk?.kind === kind)
  }

  #down(why: string): void {
    if (!this.#up) return
    this.#up = false
    this.#events.presence(false, why)
  }
}

/** Time order across nodes, as `GET /api/events?last=` answers: at, then node, then seq. */
function byTime(a: Entry, b: Entry): number {
  return a.at - b.at || (a.node < b.node ? -1 : a.node > b.node ? 1 : a.seq - b.seq)
}
