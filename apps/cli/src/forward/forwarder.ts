import { randomUUID } from 'node:crypto'
import { isTransient, type EntryInput } from '@ylog/client'
import { readCheckpoint, writeCheckpoint, type Checkpoint } from './checkpoint.js'
import type { Line, Position } from './file-source.js'
import { BadLine } from './line-event.js'
import { withRetry, type RetryPolicy } from './retry.js'

/** Where batches go: the node's batch route in production, a fake in the seed's tests. */
export interface IngestSink {
  /** Appends the batch under `key`; a batch the node had already committed under that key comes back as duplicates. */
  send(events: EntryInput[], key: string): Promise<{ accepted: number; duplicates: number }>
}

/** What a source is read through: a followed file, or stdin. */
export interface LineSource {
  readonly name: string
  /** Bytes of the source seen so far (for lag). */
  readonly size: number
  open(at: Position | undefined, fromEnd: boolean): Position
  read(maxLines: number, maxBytes: number, atEnd: boolean): { lines: Line[]; generation?: Position }
  /** True when no more lines can come (stdin closed); a file never ends while followed. */
  ended(): boolean
}

export interface ForwardOptions {
  target: string
  sink: IngestSink
  toEvent(text: string): EntryInput
  /** Undefined: no checkpoint (stdin, which cannot be read again anyway). */
  checkpointPath?: string
  batchCount: number
  batchBytes: number
  lingerMs: number
  /** Keep following after the end (tail -F); false: stop at the current end. */
  follow: boolean
  fromEnd: boolean
  retry: RetryPolicy
  /** A refused batch goes here (and a skip record to the node) instead of stopping the forwarder. */
  deadLetter?: (skipped: { source: string; lines: Line[]; code: string; message: string }) => Promise<void>
  /** Aborted: finish the batch in flight, write the checkpoint, stop. */
  signal?: AbortSignal
  onNotice?(text: string): void
  onBatch?(progress: SourceProgress): void
  pollMs?: number
}

export interface ForwardResult {
  forwarded: number
  duplicates: number
  failedBatches: number
  retries: number
  skipped: number
  /** The byte after the last acknowledged line. */
  newOffset: number
  batches: number
}

export interface SourceProgress extends ForwardResult {
  source: string
  /** Bytes of the source not acknowledged yet. */
  lagBytes: number
  /** Lines read but not acknowledged yet. */
  lagLines: number
}

/** A permanent refusal: the node's code and message; the checkpoint stays before the refused batch. */
export class ForwardStopped extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly result: ForwardResult,
  ) {
    super(message)
  }
}

/**
 * Forwards one source, batch after batch, in order. Exactly once: the
 * batch is recorded in the checkpoint (with its Idempotency-Key) before it
 * is sent, and the checkpoint moves past it only after the node answered.
 * After a crash anywhere in between, the recorded batch is sent again
 * first, byte for byte, and the node, which stores the key in the commit
 * of the entries, answers it as a replay (counted as duplicates).
 */
export async function forwardSource(source: LineSource, o: ForwardOptions): Promise<ForwardResult> {
  const loaded = o.checkpointPath === undefined ? undefined : readCheckpoint(o.checkpointPath)
  const resumeAt = loaded === undefined ? undefined : { ino: loaded.ino, truncations: loaded.truncations, offset: loaded.inflight?.to ?? loaded.offset }
  const opened = source.open(resumeAt, o.fromEnd)
  const state: Checkpoint = loaded ?? { version: 1, source: source.name, target: o.target, ...opened, forwarded: 0, duplicates: 0, skipped: 0 }
  const result: ForwardResult = { forwarded: 0, duplicates: 0, failedBatches: 0, retries: 0, skipped: 0, newOffset: state.offset, batches: 0 }
  const save = (): void => {
    if (o.checkpointPath !== undefined) writeCheckpoint(o.checkpointPath, state)
  }
  const moveTo = (gen: Position): void => {
    Object.assign(state, { ino: gen.ino, truncations: gen.truncations, offset: gen.offset })
    result.newOffset = gen.offset
    save()
  }
  if (state.inflight === undefined && (opened.ino !== state.ino || opened.truncations !== state.truncations || opened.offset !== state.offset)) moveTo(opened)
  if (loaded === undefined) save()
  let read = 0
  const progress = (): void => o.onBatch?.({ ...result, source: source.name, lagBytes: Math.max(0, source.size - state.offset), lagLines: read })

  const deliver = async (events: EntryInput[], lines: Line[], key: string): Promise<void> => {
    try {
      const ack = await withRetry(() => o.sink.send(events, key), o.retry, () => result.retries++, o.signal)
      result.forwarded += ack.accepted
      result.duplicates += ack.duplicates
      state.forwarded += ack.accepted
      state.duplicates += ack.duplicates
    } catch (err) {
      const code = (err as { code?: string }).code ?? 'INTERNAL'
      const message = (err as Error).message
      if (isTransientLeft(err, o.signal)) {
        // Retries used up or interrupted: the in-flight record stays, so the next run sends this batch again first.
        result.failedBatches++
        throw new ForwardStopped(code, `${message} (the batch stays recorded in the checkpoint and is sent again first by the next run)`, result)
      }
      state.inflight = undefined
      save()
      if (o.deadLetter === undefined) {
        result.failedBatches++
        const where = `${source.name} bytes ${(lines[0] as Line).from}-${(lines.at(-1) as Line).to}`
        throw new ForwardStopped(code, `the node refused the batch at ${where}: ${code}: ${message}; the checkpoint stays before it`, result)
      }
      await o.deadLetter({ source: source.name, lines, code, message })
      result.skipped += lines.length
      state.skipped += lines.length
    }
    result.batches++
    state.inflight = undefined
    state.offset = (lines.at(-1) as Line).to
    result.newOffset = state.offset
    read = Math.max(0, read - lines.length)
    save()
    progress()
  }

  if (state.inflight !== undefined) {
    const { key, from, to, events } = state.inflight
    o.onNotice?.(`${source.name}: sending the batch in flight at the last stop again (bytes ${from}-${to}, key ${key})`)
    await deliver(events, [{ from, to, text: '' }], key)
  }

  const held: Line[] = []
  let nextGeneration: Position | undefined
  for (;;) {
    if (nextGeneration !== undefined) {
      moveTo(nextGeneration)
      nextGeneration = undefined
    }
    if (o.signal?.aborted === true) break
    const batch = await take()
    if (batch === undefined) break
    if ('bad' in batch) {
      const err = batch.bad
      state.inflight = undefined
      if (o.deadLetter === undefined) {
        result.failedBatches++
        throw new ForwardStopped('BAD_LINE', `${source.name} line at byte ${batch.line.from}: ${err.message}; the checkpoint stays before it`, result)
      }
      await o.deadLetter({ source: source.name, lines: [batch.line], code: 'BAD_LINE', message: err.message })
      result.skipped++
      state.skipped++
      state.offset = batch.line.to
      result.newOffset = state.offset
      read--
      save()
      continue
    }
    const key = `fwd-${randomUUID()}`
    state.inflight = { key, from: (batch.lines[0] as Line).from, to: (batch.lines.at(-1) as Line).to, events: batch.events }
    save()
    await deliver(batch.events, batch.lines, key)
  }
  progress()
  return result

  /** The next batch: up to the count or bytes, or what came within the linger time; undefined at the end. */
  async function take(): Promise<{ lines: Line[]; events: EntryInput[] } | { bad: BadLine; line: Line } | undefined> {
    const lines: Line[] = []
    const events: EntryInput[] = []
    let bytes = 0
    let started: number | undefined
    for (;;) {
      const fresh = held.length > 0 ? held.splice(0) : readMore()
      for (const [i, line] of fresh.entries()) {
        let event: EntryInput
        try {
          event = o.toEvent(line.text)
        } catch (err) {
          if (!(err instanceof BadLine)) throw err
          if (lines.length === 0) {
            held.push(...fresh.slice(i + 1))
            return { bad: err, line }
          }
          held.push(...fresh.slice(i))
          return { lines, events }
        }
        lines.push(line)
        events.push(event)
        bytes += line.to - line.from
      }
      started ??= lines.length > 0 ? Date.now() : undefined
      if (lines.length >= o.batchCount || bytes >= o.batchBytes || nextGeneration !== undefined) return { lines, events }
      if (fresh.length > 0) continue
      const done = !o.follow || source.ended() || o.signal?.aborted === true
      if (done || (started !== undefined && Date.now() - started >= o.lingerMs)) return lines.length > 0 ? { lines, events } : undefined
      await new Promise((resolve) => setTimeout(resolve, Math.min(o.pollMs ?? 50, started === undefined ? 50 : o.lingerMs)))
    }

    function readMore(): Line[] {
      const r = source.read(o.batchCount - lines.length, o.batchBytes - bytes, !o.follow || source.ended())
      if (r.generation !== undefined) {
        if (lines.length === 0) moveTo(r.generation)
        else nextGeneration = r.generation
      }
      read += r.lines.length
      return r.lines
    }
  }
}

function isTransientLeft(err: unknown, signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true || isTransient(err)
}
