// A seeded generator of values from the JSON schemas of an OpenAPI document:
// valid ones, and for each schema the ways to break it. Enough JSON Schema for
// what a route schema uses (types, enums, const, ranges, lengths, simple
// patterns, required, additionalProperties, anyOf, if/then, examples).
import { seededRandom } from '@ylog/core/testing'

export type Schema = Record<string, unknown> & {
  type?: string | string[]
  enum?: unknown[]
  const?: unknown
  examples?: unknown[]
  pattern?: string
  minLength?: number
  maxLength?: number
  minimum?: number
  maximum?: number
  minItems?: number
  maxItems?: number
  items?: Schema
  properties?: Record<string, Schema>
  required?: string[]
  additionalProperties?: boolean | Schema
  anyOf?: Schema[]
  if?: Schema
  then?: Schema
}

export class Rand {
  readonly #next: () => number
  constructor(seed: number) {
    this.#next = seededRandom(seed)
  }
  float(): number {
    return this.#next()
  }
  int(min: number, max: number): number {
    return min + Math.floor(this.#next() * (max - min + 1))
  }
  chance(p: number): boolean {
    return this.#next() < p
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(0, items.length - 1)] as T
  }
}

/** Strings longer than this are not generated unless a minLength asks: bodies stay far below the size limits. */
const SHORT = 24

/**
 * A valid value. `examples`, where a schema has them, are what it uses: they
 * mark values whose validity a schema cannot state (an opaque cursor, a time
 * the clock bounds), so the document promises they are accepted.
 */
export function valid(schema: Schema, r: Rand): unknown {
  if (schema.examples !== undefined && schema.examples.length > 0) return r.pick(schema.examples)
  if (schema.const !== undefined) return schema.const
  if (schema.enum !== undefined) return r.pick(schema.enum)
  if (schema.anyOf !== undefined) return valid(r.pick(schema.anyOf), r)
  const type = Array.isArray(schema.type) ? r.pick(schema.type) : schema.type
  switch (type) {
    case 'null':
      return null
    case 'boolean':
      return r.chance(0.5)
    case 'integer': {
      const min = schema.minimum ?? -1000
      const max = schema.maximum ?? min + 2000
      // Edges are where off-by-one mistakes live.
      return r.chance(0.3) ? r.pick([min, max]) : r.int(min, Math.min(max, min + 10_000))
    }
    case 'number':
      return r.float() * 1000
    case 'string':
      return schema.pattern !== undefined
        ? fromPattern(schema.pattern, r, schema.minLength ?? 0, schema.maxLength ?? Number.MAX_SAFE_INTEGER)
        : text(r, schema.minLength ?? 0, Math.min(schema.maxLength ?? SHORT, Math.max(SHORT, schema.minLength ?? 0)))
    case 'array': {
      const n = r.int(schema.minItems ?? 0, Math.min(schema.maxItems ?? 4, (schema.minItems ?? 0) + 4))
      return Array.from({ length: n }, () => valid(schema.items ?? {}, r))
    }
    case 'object':
      return validObject(schema, r)
    default:
      return anyJson(r, 2)
  }
}

function validObject(schema: Schema, r: Rand): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  const required = new Set(schema.required ?? [])
  for (const [name, property] of Object.entries(schema.properties ?? {})) {
    if (required.has(name) || r.chance(0.5)) out[name] = valid(property, r)
  }
  // if/then: when the generated object matches `if`, its fields follow `then`.
  const conditions = Object.entries(schema.if?.properties ?? {})
  if (conditions.length > 0 && conditions.every(([name, c]) => c.const === undefined || out[name] === c.const)) {
    for (const [name, property] of Object.entries(schema.then?.properties ?? {})) if (name in out) out[name] = valid(property, r)
  }
  return out
}

/** Any JSON value, nested at most `depth` deep, integers within the safe range. */
export function anyJson(r: Rand, depth: number): unknown {
  switch (r.int(0, depth > 0 ? 6 : 4)) {
    case 0:
      return null
    case 1:
      return r.chance(0.5)
    case 2:
      return r.int(-1e6, 1e6)
    case 3:
      return r.float()
    case 4:
      return text(r, 0, 12)
    case 5:
      return Array.from({ length: r.int(0, 3) }, () => anyJson(r, depth - 1))
    default:
      return Object.fromEntries(Array.from({ length: r.int(0, 3) }, (_, i) => [`k${i}`, anyJson(r, depth - 1)]))
  }
}

function text(r: Rand, min: number, max: number): string {
  const chars = 'abcXYZ019 _-./:é€😀"\\'
  return Array.from({ length: r.int(min, max) }, () => r.pick([...chars])).join('')
}

/** A string matching `pattern`: anchored sequences of literals, escapes, [classes] and groups of alternatives, with quantifiers. */
export function fromPattern(pattern: string, r: Rand, minLength = 0, maxLength = Number.MAX_SAFE_INTEGER): string {
  const re = new RegExp(pattern)
  for (let attempt = 0; attempt < 50; attempt++) {
    const s = generate(pattern.replace(/^\^/, '').replace(/\$$/, ''), r)
    if (re.test(s) && s.length >= minLength && s.length <= maxLength) return s
  }
  throw new Error(`cannot generate a string for /${pattern}/ within ${minLength}-${maxLength} characters`)
}

function generate(source: string, r: Rand): string {
  let out = ''
  let i = 0
  while (i < source.length) {
    let atom: () => string
    const c = source[i] as string
    if (c === '(') {
      const end = closing(source, i)
      const alternatives = splitTop(source.slice(i + 1, end))
      atom = () => generate(r.pick(alternatives), r)
      i = end + 1
    } else if (c === '[') {
      const end = source.indexOf(']', i + 2)
      const chars = expandClass(source.slice(i + 1, end))
      atom = () => r.pick(chars)
      i = end + 1
    } else if (c === '\\') {
      const escaped = source[i + 1] as string
      atom = () => escaped
      i += 2
    } else {
      atom = () => c
      i += 1
    }
    const [min, max, next] = quantifier(source, i)
    i = next
    const n = r.int(min, Math.min(max, min + SHORT))
    for (let k = 0; k < n; k++) out += atom()
  }
  return out
}

function quantifier(source: string, i: number): [number, number, number] {
  const c = source[i]
  if (c === '*') return [0, SHORT, i + 1]
  if (c === '+') return [1, SHORT, i + 1]
  if (c === '?') return [0, 1, i + 1]
  const m = c === '{' ? /^\{(\d+)(,(\d*))?\}/.exec(source.slice(i)) : null
  if (m === null) return [1, 1, i]
  const min = Number(m[1])
  const max = m[2] === undefined ? min : m[3] === '' ? min + SHORT : Number(m[3])
  return [min, max, i + m[0].length]
}

function closing(source: string, open: number): number {
  let depth = 0
  for (let i = open; i < source.length; i++) {
    if (source[i] === '\\') i++
    else if (source[i] === '(') depth++
    else if (source[i] === ')' && --depth === 0) return i
  }
  throw new Error(`unbalanced group in /${source}/`)
}

function splitTop(source: string): string[] {
  const parts: string[] = []
  let depth = 0
  let start = 0
  for (let i = 0; i < source.length; i++) {
    if (source[i] === '\\') i++
    else if (source[i] === '(' || source[i] === '[') depth++
    else if (source[i] === ')' || source[i] === ']') depth--
    else if (source[i] === '|' && depth === 0) {
      parts.push(source.slice(start, i))
      start = i + 1
    }
  }
  parts.push(source.slice(start))
  return parts.map((p) => p.replace(/^\?:/, ''))
}

function expandClass(body: string): string[] {
  const chars: string[] = []
  const items = [...body.replaceAll('\\', '')]
  for (let i = 0; i < items.length; i++) {
    const from = items[i] as string
    if (items[i + 1] === '-' && items[i + 2] !== undefined) {
      for (let code = from.codePointAt(0) as number; code <= (items[i + 2]?.codePointAt(0) as number); code++)
        chars.push(String.fromCodePoint(code))
      i += 2
    } else chars.push(from)
  }
  return chars
}

/** Values that break `schema`, each with why: the wrong type, out of range, too long, off-pattern, not in the enum. */
export function invalid(schema: Schema, r: Rand): Array<{ why: string; value: unknown }> {
  const out: Array<{ why: string; value: unknown }> = []
  const types = Array.isArray(schema.type) ? schema.type : schema.type === undefined ? [] : [schema.type]
  if (types.length > 0 && schema.anyOf === undefined) {
    const wrong = [{}, [1], true, 'x', 1.5, 7].filter((v) => !types.some((t) => isType(v, t)))
    out.push({ why: `not ${types.join('|')}`, value: r.pick(wrong) })
  }
  if (schema.enum !== undefined) out.push({ why: 'not in the enum', value: 'not-a-member' })
  if (schema.minimum !== undefined) out.push({ why: 'below the minimum', value: schema.minimum - 1 })
  if (schema.maximum !== undefined && schema.maximum < Number.MAX_SAFE_INTEGER)
    out.push({ why: 'above the maximum', value: schema.maximum + 1 })
  if (schema.maxLength !== undefined && schema.maxLength <= 4096) out.push({ why: 'too long', value: 'a'.repeat(schema.maxLength + 1) })
  if (schema.minLength !== undefined && schema.minLength > 0) out.push({ why: 'too short', value: '' })
  if (schema.pattern !== undefined) {
    const broken = `${String(valid({ ...schema, examples: undefined }, r))} ;`
    if (!new RegExp(schema.pattern).test(broken)) out.push({ why: 'off the pattern', value: broken })
  }
  return out
}

export function isType(value: unknown, type: string): boolean {
  switch (type) {
    case 'integer':
      return Number.isInteger(value)
    case 'number':
      return typeof value === 'number'
    case 'array':
      return Array.isArray(value)
    case 'object':
      return typeof value === 'object' && value !== null && !Array.isArray(value)
    case 'null':
      return value === null
    default:
      return typeof value === type
  }
}
