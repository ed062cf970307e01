import { describe, expect, it } from 'vitest'
import { sha256, toHex, ZERO_HASH } from './bytes.js'
import { signatureValid } from './chain.js'
import { decodeEntry, MAX_ENTRY_BYTES, peekEntry, peekTopicKind, signEntry, validateBody, validateTopic, type EntryBody } from './entry.js'
import { YlogError } from './errors.js'
import { NodeIdentity } from './identity.js'

const id = NodeIdentity.generate()
const fields = (body: EntryBody, seq = 0) => ({ seq, prev: ZERO_HASH, at: 1_700_000_000_000, topic: 'pipeline/stages', body })

describe('entries', () => {
  const bodies: EntryBody[] = [
    { kind: 'transition', data: { subject: 'story-7', from: 'backlog', to: 'coding', event: 'DepsMet' } },
    { kind: 'event', data: { step: 3, ok: true, tags: ['a', 'b'], nested: { x: 1.5, y: null } } },
    { kind: 'gap', data: { stream: 'transitions', from: 3, to: 5 } },
  ]

  it.each(bodies)('round-trips a $kind entry with its signature and hash', (body) => {
    const { bytes, hash } = signEntry(id, fields(body, 42))
    const entry = decodeEntry(bytes)
    expect(entry).toMatchObject({ node: id.id, seq: 42, prev: toHex(ZERO_HASH), at: 1_700_000_000_000, topic: 'pipeline/stages', ...body })
    expect(entry.hash).toBe(toHex(hash))
    expect(toHex(sha256(bytes))).toBe(entry.hash)
    expect(signatureValid(id.publicKey, bytes)).toBe(true)
    expect(peekEntry(bytes)).toMatchObject({ seq: 42, at: 1_700_000_000_000 })
  })

  it('encodes canonically: key order does not change the bytes', () => {
    const a = signEntry(id, fields({ kind: 'event', data: { b: 1, a: [1, { d: 2, c: 3 }] } }))
    const b = signEntry(id, fields({ kind: 'event', data: { a: [1, { c: 3, d: 2 }], b: 1 } }))
    expect(toHex(a.bytes)).toBe(toHex(b.bytes))
  })

  it('starts with the format version and puts node and prev at fixed offsets', () => {
    const prev = sha256(new Uint8Array([1]))
    const { bytes } = signEntry(id, { ...fields({ kind: 'event', data: 1 }), prev })
    expect(bytes[0]).toBe(0x89)
    expect(bytes[1]).toBe(1)
    expect(toHex(peekEntry(bytes)?.node as Uint8Array)).toBe(id.id)
    expect(toHex(peekEntry(bytes)?.prev as Uint8Array)).toBe(toHex(prev))
  })

  it('any flipped byte breaks the signature or the structure', () => {
    const { bytes } = signEntry(id, fields(bodies[0] as EntryBody))
    for (let i = 0; i < bytes.byteLength; i++) {
      const copy = Uint8Array.from(bytes)
      copy[i] = (copy[i] as number) ^ 0x01
      let structurallyValid = true
      try {
        decodeEntry(copy)
      } catch {
        structurallyValid = false
      }
      expect(structurallyValid && signatureValid(id.publicKey, copy)).toBe(false)
    }
  })

  it('refuses entries over the size limit with the limit in the message', () => {
    expect(() => signEntry(id, fields({ kind: 'event', data: 'x'.repeat(MAX_ENTRY_BYTES) }))).toThrow(/the limit is 65536/)
  })

  it('refuses malformed bytes with MALFORMED_ENTRY', () => {
    for (const bad of [new Uint8Array(0), new Uint8Array(200), Uint8Array.from([0x89, 1, 0x58, 0x20])]) {
      expect(() => decodeEntry(bad)).toThrow(expect.objectContaining({ code: 'MALFORMED_ENTRY' }))
    }
  })
})

describe('validation', () => {
  it.each([
    ['', /non-empty/],
    ['x'.repeat(129), /limit is 128/],
    ['has space', /characters outside/],
    ['-leading', /start with a letter or digit/],
    [42, /non-empty string, got number 42/],
  ])('refuses topic %j', (topic, message) => {
    expect(() => validateTopic(topic)).toThrow(message)
    expect(() => validateTopic(topic)).toThrow(YlogError)
  })

  it('accepts topics from the documented character set', () => {
    for (const t of ['a', 'pipeline/stages', 'agent.steps:v2', 'A_b-c/9']) expect(() => validateTopic(t)).not.toThrow()
  })

  it.each([
    ['nope', {}, /kind must be one of transition, event, gap/],
    ['transition', { subject: 's', from: 'a', to: 'b' }, /transition data.event must be a string/],
    ['transition', { subject: 's', from: 'a', to: 'b', event: 'e', extra: 1 }, /unknown field\(s\) extra/],
    ['gap', { stream: 's', from: 5, to: 3 }, /from \(5\) is after gap data.to \(3\)/],
    ['gap', { stream: 's', from: -1, to: 3 }, /non-negative integer/],
    ['event', { x: undefined }, /data.x is undefined/],
    ['event', { x: Number.NaN }, /must be finite/],
    ['event', { x: 2 ** 60 }, /integers must lie within/],
    ['event', { when: new Date() }, /only plain JSON objects/],
    ['event', JSON.parse('{"__proto__": 1}'), /__proto__/],
  ])('refuses kind %s with data %j', (kind, data, message) => {
    expect(() => validateBody(kind, data)).toThrow(message)
  })
})

describe('peekTopicKind', () => {
  it('reads topic and kind as decodeEntry does, for short and long topics, and refuses other bytes', () => {
    const identity = NodeIdentity.generate()
    for (const [topic, seq, at] of [['t', 0, 0], ['x'.repeat(23), 23, 1_700_000_000_000], ['y'.repeat(24), 70_000, 2 ** 40], ['z'.repeat(128), 2 ** 33, 5]] as const) {
      const { bytes } = signEntry(identity, { seq, prev: new Uint8Array(32), at, topic, body: { kind: 'transition', data: { subject: 's', from: 'a', to: 'b', event: 'e' } } })
      const entry = decodeEntry(bytes)
      expect(peekTopicKind(bytes)).toEqual({ topic: entry.topic, kind: entry.kind })
    }
    expect(peekTopicKind(new Uint8Array(10))).toBeUndefined()
  })
})
