import { closeSync, openSync, readSync, statSync } from 'node:fs'
import { fromWire, toWire, YlogError, type WireError } from '@ylog/core'
import { startModuleWorker } from '@ylog/core/internal'
import { ChainVerifier, parseExportLine, type ChainEnds } from '@ylog/node/transfer'
import { lineChunksOf } from './ndjson.js'

/** What a range of the file holds: lines read (blank ones included), entries, and each node's chain ends. */
export interface RangeResult {
  lines: number
  entries: number
  nodes: ChainEnds[]
}

/** A problem in a range; `line` is the range's own number of the line it was found at (0 for a chain problem). */
export type RangeFailure = { error: WireError; line: number }

/** Files smaller than this are checked on this thread: starting two worker threads costs more than it saves. */
const SPLIT_BYTES = 16 * 1024 * 1024

/**
 * The first pass of `ylog import`: every line of the file parsed and every
 * node's chain checked (links, seqs, time order, a signature per 4096)
 * before anything is written. A large file is checked in two halves on two
 * worker threads, each from every node's first line in it; then the seams
 * are checked here (a node's first line in the second half must follow its
 * last in the first: next seq, its hash, no earlier time).
 */
export async function verifyFile(
  path: string,
  file: string,
  onLines: (n: number) => void,
  splitBytes = SPLIT_BYTES,
): Promise<{ entries: number; nodes: ChainEnds[] }> {
  const size = statSync(path).size
  if (size < splitBytes) {
    const result = await verifyRange(path, file, { start: 0, end: size }, onLines)
    if ('error' in result) throw fromWire(result.error)
    return { entries: result.entries, nodes: result.nodes }
  }
  const middle = lineStartAfter(path, Math.floor(size / 2))
  const [first, second] = await Promise.all([
    inWorker(path, file, { start: 0, end: middle }, onLines),
    inWorker(path, file, { start: middle, end: size }, onLines),
  ])
  if ('error' in first) throw fromWire(first.error)
  if ('error' in second) {
    // The second half numbers its lines from its own start: name the line as the file does.
    const err = fromWire(second.error)
    if (second.line === 0) throw err
    const message = err.message.replace(`${file} line ${second.line}`, `${file} line ${second.line + first.lines}`)
    throw new YlogError(err.code, message)
  }
  return { entries: first.entries + second.entries, nodes: seam(first.nodes, second.nodes) }
}

/** Checks lines `range.start` to `range.end` of the file (what each worker runs). */
export async function verifyRange(
  path: string,
  file: string,
  range: { start: number; end: number },
  onLines: (n: number) => void,
): Promise<RangeResult | RangeFailure> {
  const verifier = new ChainVerifier()
  const seen = { lines: 0 }
  let entries = 0
  let at = 0
  try {
    for await (const chunk of lineChunksOf(path, 1 << 20, range, seen)) {
      for (const line of chunk) {
        at = line.number
        verifier.add(parseExportLine(line.bytes.toString(), `${file} line ${line.number}`))
      }
      at = 0
      entries += chunk.length
      onLines(chunk.length)
    }
    return { lines: seen.lines, entries, nodes: verifier.finish() }
  } catch (err) {
    return { error: toWire(err, 'INTERNAL'), line: at }
  }
}

function inWorker(
  path: string,
  file: string,
  range: { start: number; end: number },
  onLines: (n: number) => void,
): Promise<RangeResult | RangeFailure> {
  const worker = startModuleWorker(import.meta.url, 'verify-worker', { path, file, range })
  return new Promise((resolve, reject) => {
    worker.on('message', (m: { type: 'lines'; n: number } | { type: 'done'; result: RangeResult | RangeFailure }) => {
      if (m.type === 'lines') return onLines(m.n)
      resolve(m.result)
      void worker.terminate()
    })
    worker.on('error', reject)
  })
}

/** The two halves' nodes as one list, after checking that each node's second-half lines continue its first-half ones. */
export function seam(first: readonly ChainEnds[], second: readonly ChainEnds[]): ChainEnds[] {
  const merged = new Map(first.map((n) => [n.node, n]))
  for (const later of second) {
    const before = merged.get(later.node)
    if (before === undefined) {
      merged.set(later.node, later)
      continue
    }
    if (later.from !== before.to || later.firstPrev !== before.lastHash || later.firstAt < before.lastAt) {
      const what = later.from !== before.to ? `follows seq ${before.to - 1}` : 'does not link to the entry before it'
      throw new YlogError('BROKEN_CHAIN', `node ${later.node} seq ${later.from}: ${what}; an import takes whole chains`)
    }
    merged.set(later.node, { ...before, to: later.to, lastHash: later.lastHash, lastAt: later.lastAt })
  }
  return [...merged.values()]
}

/** The first byte after the line break at or after `offset`: where the second half starts. */
function lineStartAfter(path: string, offset: number): number {
  const fd = openSync(path, 'r')
  try {
    const buffer = Buffer.alloc(1 << 16)
    for (let at = offset; ; at += buffer.length) {
      const n = readSync(fd, buffer, 0, buffer.length, at)
      if (n === 0) return at
      const nl = buffer.subarray(0, n).indexOf(0x0a)
      if (nl !== -1) return at + nl + 1
    }
  } finally {
    closeSync(fd)
  }
}
