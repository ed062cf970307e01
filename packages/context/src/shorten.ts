import type { Entry } from '@ylog/core'
import type { CountTokens } from './tokenizer.js'
import type { ContextFormat } from './types.js'
import { entryHeader } from './render.js'

/**
 * An entry line within `cap` tokens: as it is when it fits, else its longest
 * prefix (by code points, found by binary search) that fits with a visible
 * marker saying how long the entry was and where to read all of it. In JSON
 * lines the data gives way to a `preview` string, so each line stays JSON.
 */
export function shortenLine(line: string, entry: Entry, cap: number, count: CountTokens, format: ContextFormat): string {
  const tokens = count(line)
  if (tokens <= cap) return line
  const where = `GET /api/events/${entry.node}/${entry.seq}`
  const chars = Array.from(format === 'jsonl' ? JSON.stringify(entry.data) : line)
  const make = (n: number): string => {
    const prefix = chars.slice(0, n).join('')
    if (format !== 'jsonl') return `${prefix} … [shortened: the entry is ${tokens} tokens; all of it: ${where}]`
    return JSON.stringify({ ...entryHeader(entry), preview: prefix, shortened: { tokens, all: where }, hash: entry.hash })
  }
  let lo = 0
  let hi = chars.length
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1
    if (count(make(mid)) <= cap) lo = mid
    else hi = mid - 1
  }
  return make(lo)
}
