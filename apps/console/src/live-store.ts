import type { Entry, EntryKind } from '@ylog/client'
import { client, describe, needsToken } from './api.js'

/** Rows held at most: the live log drops the oldest beyond this, so a tab left open for days keeps a flat heap. */
export const ROW_CAP = 5000
const FIRST_PAGE = 200
const OLDER_PAGE = 200

export interface Filters {
  topic: string
  kind: '' | EntryKind
  node: string
  subject: string
}

export interface LiveState {
  /** Newest first. */
  rows: readonly Entry[]
  paused: boolean
  /** Entries that arrived while paused, shown on resume. */
  pending: number
  /** Position before the oldest row for `before=`; null at the start of the log; undefined while rows above it were capped away. */
  prev: string | null | undefined
  loading: boolean
  error: string | undefined
  needsToken: boolean
  /** Live entries received since the page opened (for the bench and the status line). */
  received: number
  /** Entries the node skipped for this tab because it read the stream too slowly (the stream's gap items). */
  missed: number
}

const NO_FILTERS: Filters = { topic: '', kind: '', node: '', subject: '' }

/**
 * The live log's data, outside any component so it survives page changes:
 * the newest page by `?last=`, then the stream from its `next` (no entry
 * missed or repeated between them), older pages by `?before=`. Listeners hear
 * at most once per animation frame however fast entries arrive.
 */
export class LiveStore {
  #state: LiveState = {
    rows: [],
    paused: false,
    pending: 0,
    prev: null,
    loading: false,
    error: undefined,
    needsToken: false,
    received: 0,
    missed: 0,
  }
  #filters: Filters = NO_FILTERS
  #held: Entry[] = []
  #controller: AbortController | undefined
  #listeners = new Set<() => void>()
  #frame = 0

  get state(): LiveState {
    return this.#state
  }

  get filters(): Filters {
    return this.#filters
  }

  subscribe(listener: () => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  /** Node and subject filter the rows held here; topic and kind go to the node, which then sends only those. */
  visible(): readonly Entry[] {
    const { node, subject } = this.#filters
    if (node === '' && subject === '') return this.#state.rows
    return this.#state.rows.filter((e) => (node === '' || e.node.startsWith(node)) && (subject === '' || subjectOf(e) === subject))
  }

  setFilters(next: Filters): void {
    const reload = next.topic !== this.#filters.topic || next.kind !== this.#filters.kind
    this.#filters = next
    if (reload) void this.start()
    else this.#emit()
  }

  /** Loads the newest page and follows the stream from there; again from scratch when called again. */
  async start(): Promise<void> {
    this.#controller?.abort()
    const controller = new AbortController()
    this.#controller = controller
    this.#held = []
    this.#set({ rows: [], pending: 0, prev: null, loading: true, error: undefined, needsToken: false, paused: false })
    const filter = this.#serverFilter()
    try {
      const page = await client().last(FIRST_PAGE, filter)
      if (controller.signal.aborted) return
      this.#set({ rows: [...page.entries].reverse(), prev: page.prev, loading: false })
      for await (const item of client().stream({ ...filter, after: page.next, signal: controller.signal })) {
        if (item.type === 'entry') this.#arrive(item.entry)
        else this.#set({ missed: this.#state.missed + item.to - item.from + 1 })
      }
    } catch (err) {
      if (controller.signal.aborted) return
      this.#set({ loading: false, error: describe(err), needsToken: needsToken(err) })
    }
  }

  stop(): void {
    this.#controller?.abort()
  }

  pause(): void {
    this.#set({ paused: true })
  }

  resume(): void {
    const held = this.#held
    this.#held = []
    this.#set({ paused: false, pending: 0 })
    for (const entry of held) this.#add(entry)
    this.#emit()
  }

  /** One page before the oldest row. When the cap dropped rows, starts again from a fresh newest page (still paused). */
  async older(): Promise<void> {
    const { prev } = this.#state
    if (prev === null || this.#state.loading) return
    this.pause()
    this.#set({ loading: true })
    try {
      const page =
        prev === undefined
          ? await client().last(OLDER_PAGE, this.#serverFilter())
          : await client().before(prev, { ...this.#serverFilter(), limit: OLDER_PAGE })
      const older = [...page.entries].reverse()
      const base = prev === undefined ? [] : this.#state.rows
      // Paging back past the cap drops the newest rows instead: the reader asked for the past.
      this.#set({ rows: [...base, ...older].slice(-ROW_CAP), prev: page.prev, loading: false })
    } catch (err) {
      this.#set({ loading: false, error: describe(err), needsToken: needsToken(err) })
    }
  }

  #arrive(entry: Entry): void {
    this.#state = { ...this.#state, received: this.#state.received + 1 }
    if (this.#state.paused) {
      this.#held.push(entry)
      if (this.#held.length > ROW_CAP) this.#held.shift()
      this.#state = { ...this.#state, pending: this.#state.pending + 1 }
    } else this.#add(entry)
    this.#schedule()
  }

  #add(entry: Entry): void {
    const rows = this.#state.rows as Entry[]
    rows.unshift(entry)
    let prev = this.#state.prev
    if (rows.length > ROW_CAP) {
      rows.length = ROW_CAP
      prev = undefined
    }
    this.#state = { ...this.#state, rows, prev }
  }

  #serverFilter(): { topic?: string; kind?: EntryKind } {
    const { topic, kind } = this.#filters
    return { ...(topic !== '' && { topic }), ...(kind !== '' && { kind }) }
  }

  #set(patch: Partial<LiveState>): void {
    this.#state = { ...this.#state, ...patch }
    this.#emit()
  }

  #schedule(): void {
    if (this.#frame !== 0) return
    // requestAnimationFrame does not run in a hidden tab; the timeout keeps rows current for a bench or a test there.
    const flush = (): void => {
      cancelAnimationFrame(this.#frame)
      clearTimeout(timer)
      this.#frame = 0
      this.#emit()
    }
    const timer = setTimeout(flush, 100)
    this.#frame = requestAnimationFrame(flush)
  }

  #emit(): void {
    for (const listener of this.#listeners) listener()
  }
}

export function subjectOf(entry: Entry): string | undefined {
  return entry.kind === 'transition' ? entry.data.subject : undefined
}

export const live = new LiveStore()
