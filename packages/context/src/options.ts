import { YlogError } from '@ylog/core'
import type { ContextFormat, ContextOptions, ContextOrder } from './types.js'

export const DEFAULT_BUDGET = 8_000
export const DEFAULT_MAX_ENTRY_TOKENS = 1_000
export const DEFAULT_SUMMARY_SCAN = 200
/** Far beyond any model's window; it keeps a typo from asking for a billion-token scan. */
export const MAX_BUDGET = 10_000_000
export const FORMATS: readonly ContextFormat[] = ['text', 'markdown', 'jsonl']
export const ORDERS: readonly ContextOrder[] = ['time', 'node']
const KINDS = ['transition', 'event']

function bad(name: string, message: string): YlogError {
  return new YlogError('BAD_ARGUMENT', `${name}: ${message}`)
}

function integer(name: string, value: number | undefined, min: number, max = Number.MAX_SAFE_INTEGER): void {
  if (value !== undefined && (!Number.isSafeInteger(value) || value < min || value > max)) {
    throw bad(name, `must be an integer from ${min} to ${max}, got ${String(value)}`)
  }
}

function strings(name: string, value: readonly string[] | undefined, allowed?: readonly string[]): void {
  if (value === undefined) return
  if (!Array.isArray(value)) throw bad(name, 'must be an array of strings')
  for (const item of value) {
    if (typeof item !== 'string' || item === '') throw bad(name, `must hold non-empty strings, got ${JSON.stringify(item)}`)
    if (allowed !== undefined && !allowed.includes(item))
      throw bad(name, `${JSON.stringify(item)} is not one of ${allowed.join(', ')} (gap entries are always named, as what is missing)`)
  }
}

/** Checks options a caller (or a query string) gave, naming the option that is wrong. */
export function checkOptions(options: ContextOptions): void {
  integer('budget', options.budget, 1, MAX_BUDGET)
  integer('maxEntryTokens', options.maxEntryTokens, 128)
  integer('summaryScan', options.summaryScan, 0)
  integer('since', options.since, 0)
  integer('until', options.until, 0)
  strings('topics', options.topics)
  strings('kinds', options.kinds, KINDS)
  strings('nodes', options.nodes)
  strings('gapTopics', options.gapTopics)
  if (options.subject !== undefined && (typeof options.subject !== 'string' || options.subject === ''))
    throw bad('subject', 'must be a non-empty string')
  if (options.order !== undefined && !ORDERS.includes(options.order))
    throw bad('order', `must be one of ${ORDERS.join(', ')}, got ${JSON.stringify(options.order)}`)
  if (options.format !== undefined && !FORMATS.includes(options.format))
    throw bad('format', `must be one of ${FORMATS.join(', ')}, got ${JSON.stringify(options.format)}`)
  if (options.preamble !== undefined && typeof options.preamble !== 'string') throw bad('preamble', 'must be a string')
}
