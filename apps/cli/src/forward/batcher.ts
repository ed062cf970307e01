import type { EntryInput } from '@ylog/client'
import type { Line, Position } from './file-source.js'
import type { LineSource } from './forwarder.js'
import { BadLine } from './line-event.js'

/**
 * What `take` hands out: a batch; a line that cannot become an event; 'idle'
 * (nothing read, and the caller has something else to do: the batch in
 * flight was answered, or the source moved to a new generation); undefined
 * at the end of the source.
 */
export type Taken = { lines: Line[]; events: EntryInput[] } | { bad: BadLine; line: Line } | 'idle' | undefined

export interface BatcherOptions {
  toEvent(text: string): EntryInput
  batchCount: number
  batchBytes: number
  lingerMs: number
  follow: boolean
  signal?: AbortSignal
  pollMs?: number
}

/** Cuts a source's lines into batches by count, bytes and linger time, in source order. */
export class Batcher {
  readonly #source: LineSource
  readonly #o: BatcherOptions
  readonly #moveTo: (generation: Position) => void
  readonly #held: Line[] = []
  /**
   * A new generation of the source (rotated, truncated) met while lines of
   * the old one were not acknowledged yet: the caller moves the checkpoint
   * to it once they are, then calls `switchGeneration`.
   */
  pending: Position | undefined
  /** Lines read and not acknowledged yet (lag). */
  unacked = 0

  constructor(source: LineSource, options: BatcherOptions, moveTo: (generation: Position) => void) {
    this.#source = source
    this.#o = options
    this.#moveTo = moveTo
  }

  switchGeneration(): void {
    if (this.pending === undefined) return
    this.#moveTo(this.pending)
    this.pending = undefined
  }

  /**
   * The next batch: up to the count or bytes, or what came within the
   * linger time. `inFlight` says whether a batch of this source is still
   * unanswered (undefined: none is); while one is, a generation switch waits,
   * and an idle wait ends as soon as it is answered.
   */
  async take(inFlight?: () => boolean): Promise<Taken> {
    const o = this.#o
    const lines: Line[] = []
    const events: EntryInput[] = []
    let bytes = 0
    let started: number | undefined
    for (;;) {
      if (this.pending !== undefined && lines.length === 0 && this.#held.length === 0) return 'idle'
      const fresh = this.#held.length > 0 ? this.#held.splice(0) : this.#read(lines.length, bytes, inFlight !== undefined)
      for (const [i, line] of fresh.entries()) {
        let event: EntryInput
        try {
          event = o.toEvent(line.text)
        } catch (err) {
          if (!(err instanceof BadLine)) throw err
          if (lines.length === 0) {
            this.#held.push(...fresh.slice(i + 1))
            return { bad: err, line }
          }
          this.#held.push(...fresh.slice(i))
          return { lines, events }
        }
        lines.push(line)
        events.push(event)
        bytes += line.to - line.from
      }
      started ??= lines.length > 0 ? Date.now() : undefined
      if (lines.length >= o.batchCount || bytes >= o.batchBytes) return { lines, events }
      if (this.pending !== undefined) return lines.length > 0 ? { lines, events } : 'idle'
      if (fresh.length > 0) continue
      const done = !o.follow || this.#source.ended() || o.signal?.aborted === true
      const lingered = started !== undefined && Date.now() - started >= o.lingerMs
      if (done || lingered) return lines.length > 0 ? { lines, events } : undefined
      if (lines.length === 0 && inFlight !== undefined && !inFlight()) return 'idle'
      await new Promise((resolve) => setTimeout(resolve, Math.min(o.pollMs ?? 50, started === undefined ? 50 : o.lingerMs)))
    }
  }

  #read(have: number, bytes: number, busy: boolean): Line[] {
    const o = this.#o
    const r = this.#source.read(o.batchCount - have, o.batchBytes - bytes, !o.follow || this.#source.ended())
    if (r.generation !== undefined) {
      // The checkpoint moves to the new generation only when nothing of the old one is unacknowledged.
      if (have === 0 && !busy) this.#moveTo(r.generation)
      else this.pending = r.generation
    }
    this.unacked += r.lines.length
    return r.lines
  }
}
