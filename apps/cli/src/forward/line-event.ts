import type { EntryInput } from '@ylog/client'

export interface LineMapping {
  /** The topic of every event; else the line's `topic` field. */
  topic?: string
  /** The kind of every event (transition or event); else the line's `kind` field, else event. */
  kind?: 'transition' | 'event'
  /** The field holding the event's own time (ms since the epoch or ISO 8601), kept as the entry's `time`. */
  timeField: string
}

/** A line that cannot become an event: refused like a batch the node refuses (stop, or --dead-letter). */
export class BadLine extends Error {
  readonly code = 'BAD_LINE'
}

/**
 * One NDJSON line as an event. The line is a JSON object; its `data` field
 * is the event's data when it has one, else the whole object is. The
 * event's own time (the `time` field by default, --time-field to change)
 * survives as the entry's `time`; `at` stays the node's append time.
 */
export function lineToEvent(text: string, mapping: LineMapping): EntryInput {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    throw new BadLine(`not JSON: ${text.slice(0, 80)}`)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new BadLine(`not a JSON object: ${text.slice(0, 80)}`)
  const fields = value as Record<string, unknown>
  const topic = mapping.topic ?? fields.topic
  if (typeof topic !== 'string') throw new BadLine('no topic: give --topic, or a "topic" field on every line')
  const kind = mapping.kind ?? fields.kind ?? 'event'
  if (kind !== 'event' && kind !== 'transition') throw new BadLine(`kind ${JSON.stringify(kind)} is not transition or event`)
  const data = 'data' in fields ? fields.data : fields
  const time = parseTime(fields[mapping.timeField])
  return { topic, kind, data, ...(time === undefined ? {} : { time }) } as EntryInput
}

function parseTime(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value
  if (typeof value === 'string') {
    const ms = Date.parse(value)
    if (!Number.isNaN(ms) && ms >= 0) return ms
  }
  return undefined
}
