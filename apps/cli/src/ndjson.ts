import { createReadStream, createWriteStream, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { pipeline } from 'node:stream/promises'

/** The non-blank lines of a file, with their 1-based line numbers. */
export async function* linesOf(file: string): AsyncGenerator<{ text: string; number: number }> {
  let number = 0
  const input = createReadStream(file, { highWaterMark: 1 << 20 })
  for await (const text of createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY })) {
    number++
    if (text.trim() !== '') yield { text, number }
  }
}

/** Lines `size` at a time (the last batch may be smaller). */
export async function* batchesOf<T>(items: AsyncIterable<T>, size: number): AsyncGenerator<T[]> {
  let batch: T[] = []
  for await (const item of items) {
    batch.push(item)
    if (batch.length >= size) {
      yield batch
      batch = []
    }
  }
  if (batch.length > 0) yield batch
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
