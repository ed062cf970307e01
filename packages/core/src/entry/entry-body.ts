import { YlogError } from '../errors.js'
import type { EntryBody, JsonValue } from './entry.js'

// What a writer may put in an entry: its topic, its kind and the data of that kind.

export const MAX_TOPIC_LENGTH = 128
/** Topic characters: letters, digits and . _ : / - ; the first one alphanumeric. */
export const TOPIC_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:/-]*$/
export const MAX_FIELD_LENGTH = 1024
export const ENTRY_KINDS = ['transition', 'event', 'gap'] as const
const MAX_DATA_DEPTH = 64

export function validateTopic(topic: unknown): asserts topic is string {
  if (typeof topic !== 'string' || topic.length === 0) {
    throw new YlogError('BAD_TOPIC', `topic must be a non-empty string, got ${describe(topic)}`)
  }
  if (topic.length > MAX_TOPIC_LENGTH) {
    throw new YlogError('BAD_TOPIC', `topic is ${topic.length} characters; the limit is ${MAX_TOPIC_LENGTH}`)
  }
  if (!TOPIC_PATTERN.test(topic)) {
    throw new YlogError(
      'BAD_TOPIC',
      `topic ${JSON.stringify(topic)} has characters outside [A-Za-z0-9._:/-] or does not start with a letter or digit`,
    )
  }
}

/** Checks a kind and its data; returns a body holding only the allowed fields. */
export function validateBody(kind: unknown, data: unknown): EntryBody {
  switch (kind) {
    case 'transition': {
      const d = requireRecord(data, 'transition data')
      for (const field of ['subject', 'from', 'to', 'event'] as const) requireText(d[field], `transition data.${field}`)
      const extra = Object.keys(d).filter((k) => !['subject', 'from', 'to', 'event'].includes(k))
      if (extra.length > 0)
        throw new YlogError('BAD_DATA', `transition data has unknown field(s) ${extra.join(', ')}; allowed: subject, from, to, event`)
      return { kind, data: { subject: d.subject as string, from: d.from as string, to: d.to as string, event: d.event as string } }
    }
    case 'gap': {
      const d = requireRecord(data, 'gap data')
      requireText(d.stream, 'gap data.stream')
      const from = requireCount(d.from, 'gap data.from')
      const to = requireCount(d.to, 'gap data.to')
      if (from > to) throw new YlogError('BAD_DATA', `gap data.from (${from}) is after gap data.to (${to})`)
      const extra = Object.keys(d).filter((k) => !['stream', 'from', 'to'].includes(k))
      if (extra.length > 0) throw new YlogError('BAD_DATA', `gap data has unknown field(s) ${extra.join(', ')}; allowed: stream, from, to`)
      return { kind, data: { stream: d.stream as string, from, to } }
    }
    case 'event':
      checkJson(data, 'data', 0)
      return { kind, data: data as JsonValue }
    default:
      throw new YlogError('BAD_KIND', `kind must be one of ${ENTRY_KINDS.join(', ')}, got ${describe(kind)}`)
  }
}

function requireRecord(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new YlogError('BAD_DATA', `${what} must be an object, got ${describe(value)}`)
  }
  return value as Record<string, unknown>
}

function requireText(value: unknown, what: string): void {
  if (value === undefined) throw new YlogError('BAD_DATA', `${what} is missing: give a string of 1 to ${MAX_FIELD_LENGTH} characters`)
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_FIELD_LENGTH) {
    throw new YlogError('BAD_DATA', `${what} must be a string of 1 to ${MAX_FIELD_LENGTH} characters, got ${describe(value)}`)
  }
}

function requireCount(value: unknown, what: string): number {
  if (value === undefined) throw new YlogError('BAD_DATA', `${what} is missing: give a non-negative integer`)
  if (!Number.isSafeInteger(value) || (value as number) < 0) {
    throw new YlogError('BAD_DATA', `${what} must be a non-negative integer, got ${describe(value)}`)
  }
  return value as number
}

function checkJson(value: unknown, path: string, depth: number): void {
  if (depth > MAX_DATA_DEPTH) throw new YlogError('BAD_DATA', `${path} is nested deeper than ${MAX_DATA_DEPTH} levels`)
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return
    case 'number':
      if (!Number.isFinite(value)) throw new YlogError('BAD_DATA', `${path} is ${value}; JSON numbers must be finite`)
      if (Number.isInteger(value) && !Number.isSafeInteger(value)) {
        throw new YlogError('BAD_DATA', `${path} is ${value}; integers must lie within ±(2^53 - 1) (send larger ones as strings)`)
      }
      return
    case 'object': {
      if (value === null) return
      if (Array.isArray(value)) {
        value.forEach((v, i) => checkJson(v, `${path}[${i}]`, depth + 1))
        return
      }
      const proto = Object.getPrototypeOf(value)
      if (proto !== Object.prototype && proto !== null)
        throw new YlogError('BAD_DATA', `${path} is a ${describe(value)}; only plain JSON objects are allowed`)
      for (const [k, v] of Object.entries(value)) {
        if (k === '__proto__') throw new YlogError('BAD_DATA', `${path} has a "__proto__" key, which is not allowed`)
        checkJson(v, `${path}.${k}`, depth + 1)
      }
      return
    }
    default:
      throw new YlogError('BAD_DATA', `${path} is ${describe(value)}; only JSON values are allowed`)
  }
}

/** A value as an error message shows it. */
export function describe(value: unknown): string {
  if (value === undefined) return 'undefined'
  if (value === null) return 'null'
  if (value instanceof Uint8Array) return `${value.byteLength} bytes`
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'object') return (value as object).constructor?.name ?? 'an object'
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)
  return `${typeof value} ${String(value)}`
}
