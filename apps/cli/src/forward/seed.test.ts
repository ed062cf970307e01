// The seed forwarder's 13 tests (ito event_forwarder.rs), translated: a fake ingest client, real files and checkpoints.
import { appendFileSync, mkdtempSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { isTransient, YlogClientError, type EntryInput } from '@ylog/client'
import { describe, expect, it } from 'vitest'
import { checkpointPath, readCheckpoint, writeCheckpoint, type Checkpoint } from './checkpoint.js'
import { forwardSource, ForwardStopped, type ForwardOptions, type ForwardResult, type IngestSink } from './forwarder.js'
import { lineToEvent } from './line-event.js'
import { FollowedFile } from './sources.js'

type Answer = { accepted: number; duplicates: number } | YlogClientError

/** Records calls; answers from `results` in order, then accepts everything. */
class FakeIngestClient implements IngestSink {
  calls = 0
  constructor(readonly results: Answer[] = []) {}
  async send(events: EntryInput[]): Promise<{ accepted: number; duplicates: number }> {
    const answer = this.results[this.calls++]
    if (answer instanceof YlogClientError) throw answer
    return answer ?? { accepted: events.length, duplicates: 0 }
  }
}

const line = (id: string): string =>
  `${JSON.stringify({ topic: 'audit', data: { entity: 'task', entity_id: id }, time: '2026-02-28T10:00:00.000Z' })}\n`
/** A checkpoint with nothing counted yet. */
const fresh = (source: string, target: string, ino: number, offset: number): Checkpoint => ({
  version: 1,
  source,
  target,
  ino,
  truncations: 0,
  offset,
  forwarded: 0,
  duplicates: 0,
  skipped: 0,
})

function setup(n: number): { file: string; ckpt: string; size: number } {
  const dir = mkdtempSync(join(tmpdir(), 'ylog-fwd-'))
  const file = join(dir, 'audit.ndjson')
  const text = Array.from({ length: n }, (_, i) => line(`1.${i}`)).join('')
  if (n > 0) writeFileSync(file, text)
  return { file, ckpt: checkpointPath(join(dir, 'state'), file, 'http://node'), size: Buffer.byteLength(text) }
}

function forward(file: string, ckpt: string, sink: IngestSink, options: Partial<ForwardOptions> = {}): Promise<ForwardResult> {
  return forwardSource(new FollowedFile(file, () => undefined), {
    target: 'http://node',
    sink,
    toEvent: (text) => lineToEvent(text, { timeField: 'time' }),
    checkpointPath: ckpt,
    batchCount: 100,
    batchBytes: 512 * 1024,
    lingerMs: 0,
    follow: false,
    fromEnd: false,
    retry: { maxRetries: 3, baseMs: 1, capMs: 5 },
    ...options,
  })
}

const offsetAfter = (n: number): number => Array.from({ length: n }, (_, i) => Buffer.byteLength(line(`1.${i}`))).reduce((a, b) => a + b, 0)
const unauthorized = new YlogClientError('UNAUTHORIZED', 'bad token', { status: 401 })
const unavailable = new YlogClientError('NETWORK', 'timeout')

describe('forward (the seed tests)', () => {
  it('no events: forwards nothing and makes no call', async () => {
    const { file, ckpt } = setup(0)
    const client = new FakeIngestClient()
    const r = await forward(file, ckpt, client)
    expect(r).toMatchObject({ forwarded: 0, newOffset: 0, failedBatches: 0 })
    expect(client.calls).toBe(0)
  })

  it('sends all new events, in one batch when they fit', async () => {
    const { file, ckpt, size } = setup(5)
    const client = new FakeIngestClient()
    const r = await forward(file, ckpt, client, { batchCount: 10 })
    expect(r).toMatchObject({ forwarded: 5, newOffset: size, failedBatches: 0 })
    expect(client.calls).toBe(1)
  })

  it('respects the checkpoint: from 3 of 5, only 2 are sent', async () => {
    const { file, ckpt, size } = setup(5)
    const ino = (await import('node:fs')).statSync(file).ino
    writeCheckpoint(ckpt, { ...fresh(file, 'http://node', ino, offsetAfter(3)), forwarded: 3 })
    const r = await forward(file, ckpt, new FakeIngestClient())
    expect(r).toMatchObject({ forwarded: 2, newOffset: size })
  })

  it('skips when everything was forwarded', async () => {
    const { file, ckpt, size } = setup(3)
    await forward(file, ckpt, new FakeIngestClient())
    const client = new FakeIngestClient()
    const r = await forward(file, ckpt, client)
    expect(r).toMatchObject({ forwarded: 0, newOffset: size })
    expect(client.calls).toBe(0)
  })

  it('batches by count: 7 in batches of 3 → 3 calls', async () => {
    const { file, ckpt } = setup(7)
    const client = new FakeIngestClient()
    const r = await forward(file, ckpt, client, { batchCount: 3 })
    expect(r.forwarded).toBe(7)
    expect(client.calls).toBe(3)
  })

  it('stops at the first permanent failure, keeping the checkpoint after the batch before it', async () => {
    const { file, ckpt } = setup(6)
    const client = new FakeIngestClient([{ accepted: 3, duplicates: 0 }, unauthorized])
    const err = await forward(file, ckpt, client, { batchCount: 3, retry: { maxRetries: 0, baseMs: 1, capMs: 1 } }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ForwardStopped)
    const stopped = err as ForwardStopped
    expect(stopped.code).toBe('UNAUTHORIZED')
    expect(stopped.result).toMatchObject({ forwarded: 3, failedBatches: 1, newOffset: offsetAfter(3) })
    expect(readCheckpoint(ckpt)).toMatchObject({ offset: offsetAfter(3) })
    expect(readCheckpoint(ckpt)?.inflight).toBeUndefined()
  })

  it('retries a transient failure', async () => {
    const { file, ckpt } = setup(2)
    const client = new FakeIngestClient([unavailable, { accepted: 2, duplicates: 0 }])
    const r = await forward(file, ckpt, client, { batchCount: 10 })
    expect(r).toMatchObject({ forwarded: 2, failedBatches: 0, retries: 1 })
    expect(client.calls).toBe(2)
  })

  it('reports duplicates', async () => {
    const { file, ckpt } = setup(3)
    const r = await forward(file, ckpt, new FakeIngestClient([{ accepted: 1, duplicates: 2 }]))
    expect(r).toMatchObject({ forwarded: 1, duplicates: 2 })
  })

  it('checkpoint round trip', () => {
    const { ckpt } = setup(0)
    expect(readCheckpoint(ckpt)).toBeUndefined()
    const c = fresh('s', 't', 1, 42)
    writeCheckpoint(ckpt, c)
    expect(readCheckpoint(ckpt)?.offset).toBe(42)
    writeCheckpoint(ckpt, { ...c, offset: 100 })
    expect(readCheckpoint(ckpt)?.offset).toBe(100)
  })

  it('a missing checkpoint is a first run (undefined, start at 0); an unreadable one is an error that says what to do', () => {
    const { ckpt } = setup(0)
    expect(readCheckpoint(ckpt)).toBeUndefined()
    writeCheckpoint(ckpt, fresh('s', 't', 1, 1))
    appendFileSync(ckpt, 'garbage')
    expect(() => readCheckpoint(ckpt)).toThrow(/cannot be read: it is not JSON.*--from-end/)
  })

  it('tells retriable errors from permanent ones', () => {
    expect(isTransient(unavailable)).toBe(true)
    expect(isTransient(new YlogClientError('TIMEOUT', 'x'))).toBe(true)
    expect(isTransient(new YlogClientError('BAD_RESPONSE', 'x', { status: 429, retryAfterMs: 1000 }))).toBe(true)
    expect(isTransient(unauthorized)).toBe(false)
    expect(isTransient(new YlogClientError('NOT_FOUND', 'nope', { status: 404 }))).toBe(false)
    expect(isTransient(new YlogClientError('BAD_ARGUMENT', 'no', { status: 400 }))).toBe(false)
  })

  it('persists the checkpoint per batch: 6 in batches of 2, every answered batch covered, end at the end', async () => {
    const { file, ckpt, size } = setup(6)
    const seen: Array<{ acked: number; offset: number; covered: number }> = []
    const onBatch = (p: { newOffset: number }): void => {
      const c = readCheckpoint(ckpt)
      // Pipelined: an answer is written with the record of the batch after next; until then its batch stays recorded.
      seen.push({ acked: p.newOffset, offset: c?.offset ?? -1, covered: c?.next?.to ?? c?.inflight?.to ?? c?.offset ?? -1 })
    }
    await forward(file, ckpt, new FakeIngestClient(), { batchCount: 2, onBatch })
    for (const s of seen) expect(s.covered).toBeGreaterThanOrEqual(s.acked)
    expect(seen.map((s) => s.offset)).toEqual([0, offsetAfter(2), size, size])
    expect(readCheckpoint(ckpt)).toMatchObject({ offset: size, forwarded: 6 })
    expect(readCheckpoint(ckpt)?.inflight).toBeUndefined()
  })

  it('a restart sends both recorded batches again, in order, before reading on', async () => {
    const { file, ckpt, size } = setup(6)
    const events = [0, 1, 2, 3].map((i) => lineToEvent(line(`1.${i}`), { timeField: 'time' }))
    const c = fresh(file, 'http://node', statSync(file).ino, 0)
    writeCheckpoint(ckpt, {
      ...c,
      inflight: { key: 'k1', from: 0, to: offsetAfter(2), events: events.slice(0, 2) },
      next: { key: 'k2', from: offsetAfter(2), to: offsetAfter(4), events: events.slice(2) },
    })
    const keys: string[] = []
    const sink: IngestSink = {
      send: async (batch, key) => {
        keys.push(key)
        return key.startsWith('k') ? { accepted: 0, duplicates: batch.length } : { accepted: batch.length, duplicates: 0 }
      },
    }
    const r = await forward(file, ckpt, sink, { batchCount: 2 })
    expect(keys.slice(0, 2)).toEqual(['k1', 'k2'])
    expect(r).toMatchObject({ forwarded: 2, duplicates: 4, newOffset: size })
  })

  it('results compare by value', async () => {
    const { file, ckpt } = setup(5)
    const a = await forward(file, ckpt, new FakeIngestClient())
    expect({ ...a }).toEqual(a)
    expect(a).toEqual({ forwarded: 5, duplicates: 0, failedBatches: 0, retries: 0, skipped: 0, newOffset: offsetAfter(5), batches: 1 })
  })
})
