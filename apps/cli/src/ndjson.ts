import { createReadStream, createWriteStream, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'

/** A line of an NDJSON file: its bytes without the line break, and its 1-based number. */
export interface Line {
  bytes: Buffer
  number: number
}

const NEWLINE = 0x0a

/**
 * The non-blank lines of a file (or of the bytes `range.start` to
 * `range.end`, numbered from there), as raw bytes, a read chunk's worth at a
 * time: splitting bytes is several times cheaper than decoding the file to
 * text and splitting that (node:readline), and an import sends most lines
 * on as they are.
 */
export async function* lineChunksOf(
  file: string,
  chunkBytes = 1 << 20,
  range: { start: number; end: number } = { start: 0, end: Number.POSITIVE_INFINITY },
  /** Updated as lines are read, blank ones included: how many the range held, once the generator is done. */
  seen: { lines: number } = { lines: 0 },
): AsyncGenerator<Line[]> {
  let number = 0
  let rest: Buffer | undefined
  const add = (lines: Line[], bytes: Buffer): void => {
    number++
    seen.lines = number
    const end = bytes.length > 0 && bytes[bytes.length - 1] === 0x0d ? bytes.length - 1 : bytes.length
    for (let i = 0; i < end; i++) {
      const c = bytes[i]
      if (c !== 0x20 && c !== 0x09 && c !== 0x0d) return void lines.push({ bytes: bytes.subarray(0, end), number })
    }
  }
  for await (const chunk of createReadStream(file, {
    highWaterMark: chunkBytes,
    start: range.start,
    end: range.end - 1,
  }) as AsyncIterable<Buffer>) {
    const lines: Line[] = []
    let start = 0
    let nl = chunk.indexOf(NEWLINE)
    if (rest !== undefined) {
      if (nl === -1) {
        rest = Buffer.concat([rest, chunk])
        continue
      }
      add(lines, Buffer.concat([rest, chunk.subarray(0, nl)]))
      rest = undefined
      start = nl + 1
      nl = chunk.indexOf(NEWLINE, start)
    }
    for (; nl !== -1; nl = chunk.indexOf(NEWLINE, start)) {
      add(lines, chunk.subarray(start, nl))
      start = nl + 1
    }
    if (start < chunk.length) rest = Buffer.from(chunk.subarray(start))
    if (lines.length > 0) yield lines
  }
  if (rest !== undefined) {
    const lines: Line[] = []
    add(lines, rest)
    if (lines.length > 0) yield lines
  }
}

/** Items `size` at a time (the last batch may be smaller), from chunks of any size. */
export async function* batchesOf<T>(chunks: AsyncIterable<T[]>, size: number): AsyncGenerator<T[]> {
  let batch: T[] = []
  for await (const chunk of chunks) {
    for (const item of chunk) {
      batch.push(item)
      if (batch.length >= size) {
        yield batch
        batch = []
      }
    }
  }
  if (batch.length > 0) yield batch
}

/** Lines as an NDJSON body: each followed by a line break. */
export function joinLines(lines: readonly Line[]): Buffer {
  const body = Buffer.allocUnsafe(lines.reduce((n, l) => n + l.bytes.length + 1, 0))
  let at = 0
  for (const line of lines) {
    at += line.bytes.copy(body, at)
    body[at++] = NEWLINE
  }
  return body
}

/**
 * A file to read twice (verify, then import): the file itself, or stdin
 * ("-") copied to a temporary file first, since an import writes nothing
 * until every line has been verified. `done` removes the copy.
 */
export async function readableTwice(file: string): Promise<{ path: string; done: () => void }> {
  if (file !== '-') return { path: file, done: () => undefined }
  const dir = mkdtempSync(join(tmpdir(), 'ylog-import-'))
  const path = join(dir, 'stdin.ndjson')
  await pipeline(process.stdin, createWriteStream(path))
  return { path, done: () => rmSync(dir, { recursive: true, force: true }) }
}
