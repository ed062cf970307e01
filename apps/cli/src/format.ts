import type { Entry } from '@ylog/client'
import type { Output } from './output.js'

/** One entry as a line for people: where it is, when, what. */
export function entryLine(out: Output, entry: Entry): string {
  const when = new Date(entry.at).toISOString()
  return `${out.dim(`${entry.node.slice(0, 8)}:${entry.seq} ${when}`)} ${entry.topic} ${entry.kind} ${JSON.stringify(entry.data)}`
}

/** A time option: milliseconds since the epoch, or an ISO 8601 date. */
export function parseTime(text: string): number {
  if (/^[0-9]+$/.test(text)) return Number(text)
  const ms = Date.parse(text)
  if (Number.isNaN(ms)) throw new Error(`${JSON.stringify(text)} is not a time: use milliseconds since the epoch or an ISO 8601 date`)
  return ms
}
