import { randomUUID } from 'node:crypto'
import { isTransient, type EntryInput } from '@ylog/client'
import { Batcher } from './batcher.js'
import { readCheckpoint, writeCheckpoint, writeCheckpointAsync, type Checkpoint, type InflightBatch } from './checkpoint.js'
import type { Line, Position } from './file-source.js'
import { withRetry, type RetryPolicy } from './retry.js'

/** Where batches go: the node's batch route in production, a fake in the seed's tests. */
export interface IngestSink {
  /** Appends the batch under `key`; a batch the node had already committed under that key comes back as duplicates. */
  send(events: EntryInput[], key: string): Promise<{ accepted: number; duplicates: number }>
  /** Records on the node, as a gap entry under `key`, that `count` positions (bytes) of `stream` from `from` were skipped. */
  gap?(gap: SkippedRange, key: string): Promise<void>
}

/** A source range the forwarder skipped (--dead-letter): the node signs it as a gap entry. */
export interface SkippedRange {
  topic: string
  stream: string
  from: number
  count: number
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
  /** A refused line goes here (and a gap entry to the node) instead of stopping the forwarder. */
  deadLetter?: (skipped: Refused) => Promise<void>
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

/** Lines the node refused (or that are not events), with its code and message. */
export interface Refused {
  source: string
  lines: Line[]
  code: string
  message: string
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

/** A batch as it is sent: its record in the checkpoint and the lines it came from (none after a restart). */
interface Batch extends InflightBatch {
  lines: Line[]
}

/**
 * Forwards one source, batch after batch, in order. Exactly once: a batch
 * is recorded in the checkpoint (with its Idempotency-Key) before it is
 * sent, and the checkpoint moves past it only after the node answered.
 * After a crash anywhere in between, the recorded batches are sent again
 * first, byte for byte, and the node, which stores the key in the commit of
 * the entries, answers them as replays (counted as duplicates).
 *
 * Pipelined: while a batch is being sent, the next one is read and recorded
 * (as `next`, in the same write that moves the offset past the batch before),
 * so a batch costs one checkpoint write, overlapped with the node's commit.
 * The next batch is sent only after the one before it was answered: order
 * holds, and a refusal stops before anything after it reached the node.
 */
export async function forwardSource(source: LineSource, o: ForwardOptions): Promise<ForwardResult> {
  const loaded = o.checkpointPath === undefined ? undefined : readCheckpoint(o.checkpointPath)
  const lastRecorded = loaded?.next ?? loaded?.inflight
  const resumeAt =
    loaded === undefined ? undefined : { ino: loaded.ino, truncations: loaded.truncations, offset: lastRecorded?.to ?? loaded.offset }
  const opened = source.open(resumeAt, o.fromEnd)
  const state: Checkpoint = loaded ?? {
    version: 1,
    source: source.name,
    target: o.target,
    ...opened,
    forwarded: 0,
    duplicates: 0,
    skipped: 0,
  }
  const result: ForwardResult = {
    forwarded: 0,
    duplicates: 0,
    failedBatches: 0,
    retries: 0,
    skipped: 0,
    newOffset: state.offset,
    batches: 0,
  }
  const path = o.checkpointPath
  const save = (): void => {
    if (path !== undefined) writeCheckpoint(path, state)
  }
  const persist = async (): Promise<void> => {
    if (path !== undefined) await writeCheckpointAsync(path, state)
  }
  const moveTo = (gen: Position): void => {
    Object.assign(state, { ino: gen.ino, truncations: gen.truncations, offset: gen.offset })
    result.newOffset = gen.offset
    save()
  }
  const batcher = new Batcher(source, o, moveTo)
  const recorded = state.inflight !== undefined
  if (!recorded && (opened.ino !== state.ino || opened.truncations !== state.truncations || opened.offset !== state.offset)) moveTo(opened)
  if (loaded === undefined) save()
  const progress = (): void =>
    o.onBatch?.({ ...result, source: source.name, lagBytes: Math.max(0, source.size - state.offset), lagLines: batcher.unacked })

  const send = (batch: Batch): Promise<{ ack: { accepted: number; duplicates: number } } | { err: unknown }> =>
    withRetry(
      () => o.sink.send(batch.events, batch.key),
      o.retry,
      () => result.retries++,
      o.signal,
    ).then(
      (ack) => ({ ack }),
      (err: unknown) => ({ err }),
    )
  /** An answered batch, in memory; the next checkpoint write makes it durable. */
  const acked = (batch: Batch, ack: { accepted: number; duplicates: number }): void => {
    result.forwarded += ack.accepted
    result.duplicates += ack.duplicates
    state.forwarded += ack.accepted
    state.duplicates += ack.duplicates
    result.batches++
    state.offset = batch.to
    result.newOffset = state.offset
    batcher.unacked = Math.max(0, batcher.unacked - batch.events.length)
  }
  const record = (lines: Line[], events: EntryInput[]): Batch => ({
    key: `fwd-${randomUUID()}`,
    from: (lines[0] as Line).from,
    to: (lines.at(-1) as Line).to,
    events,
    lines,
  })
  const skip = skipper(source.name, o, state, result, save)

  /**
   * One batch alone: recorded, sent, its answer recorded (a restart's recorded batches, and the halves of a
   * refused batch). `after` is a batch recorded behind it that an earlier run may have sent: it stays recorded.
   */
  const deliverAlone = async (batch: Batch, already = false, after?: InflightBatch): Promise<void> => {
    if (!already) {
      state.inflight = batch
      save()
    }
    const outcome = await send(batch)
    state.inflight = after
    state.next = undefined
    if ('ack' in outcome) {
      acked(batch, outcome.ack)
      save()
    } else await refused(batch, outcome.err, after)
    progress()
  }
  /** A refusal: a transient one left over stops with the batch still recorded; a permanent one stops or is bisected. */
  const refused = async (batch: Batch, err: unknown, after?: InflightBatch): Promise<void> => {
    const code = (err as { code?: string }).code ?? 'INTERNAL'
    const message = (err as Error).message
    if (o.signal?.aborted === true || isTransient(err)) {
      // Retries used up or interrupted: the record stays, so the next run sends this batch again first.
      result.failedBatches++
      if (path !== undefined) writeCheckpoint(path, { ...state, inflight: batch, next: after })
      const kept = 'the batch stays recorded in the checkpoint and is sent again first by the next run'
      throw new ForwardStopped(code, `${message} (${kept})`, result)
    }
    const where = `${source.name} bytes ${batch.from}-${batch.to}`
    if (o.deadLetter === undefined) {
      result.failedBatches++
      // A batch an earlier run recorded may have been committed then (with the one after it): both stay recorded.
      const restart = batch.lines.length === 0
      if (path !== undefined) writeCheckpoint(path, restart ? { ...state, inflight: batch, next: after } : state)
      throw new ForwardStopped(code, `the node refused the batch at ${where}: ${code}: ${message}; the checkpoint stays before it`, result)
    }
    save()
    if (batch.lines.length > 1 && batch.lines.length === batch.events.length) {
      // Find the refused line(s): each half is recorded and sent on its own, the good ones go through.
      const half = Math.ceil(batch.lines.length / 2)
      for (const [from, to] of [
        [0, half],
        [half, batch.lines.length],
      ] as const) {
        await deliverAlone(record(batch.lines.slice(from, to), batch.events.slice(from, to)))
      }
      return
    }
    // One line, or a batch recorded by an earlier run (its lines are not at hand): skipped whole.
    const whole = [{ from: batch.from, to: batch.to, text: JSON.stringify(batch.events) }]
    const lines = batch.lines.length === batch.events.length ? batch.lines : whole
    await skip({ source: source.name, lines, code, message })
    batcher.unacked = Math.max(0, batcher.unacked - batch.events.length)
  }

  for (const [again, after] of [
    [loaded?.inflight, loaded?.next],
    [loaded?.next, undefined],
  ] as const) {
    if (again === undefined) continue
    const where = `bytes ${again.from}-${again.to}, key ${again.key}`
    o.onNotice?.(`${source.name}: sending the batch in flight at the last stop again (${where})`)
    await deliverAlone({ ...again, lines: [] }, true, after)
  }

  let current: Batch | undefined
  for (;;) {
    if (current === undefined) {
      batcher.switchGeneration()
      if (o.signal?.aborted === true) break
      const taken = await batcher.take()
      if (taken === undefined) break
      if (taken === 'idle') continue
      if ('bad' in taken) {
        await skip({ source: source.name, lines: [taken.line], code: 'BAD_LINE', message: taken.bad.message })
        batcher.unacked--
        continue
      }
      current = record(taken.lines, taken.events)
      state.inflight = current
      state.next = undefined
      await persist()
    }
    // Send the recorded batch; meanwhile read the next one and record it (with what was answered before).
    const sending = current
    let answered = false
    const outcome = send(sending).finally(() => (answered = true))
    const following = (async () => {
      if (o.signal?.aborted === true) return undefined
      const taken = await batcher.take(() => !answered)
      if (taken === undefined || taken === 'idle' || 'bad' in taken) return taken
      const next = record(taken.lines, taken.events)
      state.next = next
      await persist()
      return next
    })()
    const [answer, next] = await Promise.all([outcome, following])
    state.inflight = undefined
    state.next = undefined
    current = undefined
    if ('err' in answer) {
      await refused(sending, answer.err)
      if (next !== undefined && next !== 'idle' && !('bad' in next)) {
        // Recorded in a write the refusal has since replaced: record it again before it is sent.
        current = next
        state.inflight = next
        await persist()
      }
    } else {
      acked(sending, answer.ack)
      if (next !== undefined && next !== 'idle' && !('bad' in next)) {
        // The answer becomes durable with the record of the batch after `next` (or the final write).
        current = next
        state.inflight = next
      } else await persist()
    }
    progress()
    if (next !== undefined && next !== 'idle' && 'bad' in next) {
      await skip({ source: source.name, lines: [next.line], code: 'BAD_LINE', message: next.bad.message })
      batcher.unacked--
    }
    if (next === undefined && current === undefined && (!o.follow || source.ended() || o.signal?.aborted === true)) break
  }
  progress()
  return result
}

/** A refused line: stop (no --dead-letter), or write it to the dead-letter file, record the gap, and move past it. */
function skipper(
  name: string,
  o: ForwardOptions,
  state: Checkpoint,
  result: ForwardResult,
  save: () => void,
): (refused: Refused) => Promise<void> {
  return async (refused) => {
    const last = refused.lines.at(-1) as Line
    if (o.deadLetter === undefined) {
      result.failedBatches++
      const at = `${name} line at byte ${(refused.lines[0] as Line).from}`
      throw new ForwardStopped(refused.code, `${at}: ${refused.message}; the checkpoint stays before it`, result)
    }
    await o.deadLetter(refused)
    result.skipped += refused.lines.length
    state.skipped += refused.lines.length
    state.offset = last.to
    result.newOffset = state.offset
    save()
  }
}
