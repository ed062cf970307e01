import { describe, expect, it } from 'vitest'
import { sha256, toHex, ZERO_HASH } from './bytes.js'
import { signatureValid } from './chain.js'
import { encode, rfc8949EncodeOptions } from 'cborg'
import {
  decodeEntry,
  encodeEntryTail,
  ENTRY_FORMAT_VERSION,
  MAX_ENTRY_BYTES,
  peekEntry,
  peekTopicKind,
  signEntry,
  signEntryTail,
  validateBody,
  validateTopic,
  type EntryBody,
} from './entry.js'
import { seededRandom } from '../testing/test-support.js'
import { YlogError } from '../errors.js'
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
    ['transition', { subject: 's', from: 'a', to: 'b' }, /transition data.event is missing: give a string/],
    [
      'transition',
      { subject: 's', from: 'a', to: 'b', event: 7 },
      /transition data.event must be a string of 1 to 1024 characters, got number 7/,
    ],
    ['gap', { stream: 's', to: 3 }, /gap data.from is missing: give a non-negative integer/],
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
    for (const [topic, seq, at] of [
      ['t', 0, 0],
      ['x'.repeat(23), 23, 1_700_000_000_000],
      ['y'.repeat(24), 70_000, 2 ** 40],
      ['z'.repeat(128), 2 ** 33, 5],
    ] as const) {
      const { bytes } = signEntry(identity, {
        seq,
        prev: new Uint8Array(32),
        at,
        topic,
        body: { kind: 'transition', data: { subject: 's', from: 'a', to: 'b', event: 'e' } },
      })
      const entry = decodeEntry(bytes)
      expect(peekTopicKind(bytes)).toEqual({ topic: entry.topic, kind: entry.kind })
    }
    expect(peekTopicKind(new Uint8Array(10))).toBeUndefined()
  })
})

describe('signEntryTail', () => {
  // The oracle is cborg encoding the whole array, as signEntry did before tails were spliced in place.
  it('writes exactly the canonical array, at every width of seq and at (seeded)', () => {
    const identity = NodeIdentity.generate()
    const random = seededRandom(11)
    const widths = [0, 23, 24, 255, 256, 65_535, 65_536, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER]
    for (let i = 0; i < 200; i++) {
      const seq = i < widths.length ? (widths[i] as number) : Math.floor(random() * 2 ** (1 + Math.floor(random() * 52)))
      const at = widths[(i * 7) % widths.length] as number
      const prev = sha256(Uint8Array.of(i))
      const data = { step: `s${i}`, n: Math.floor(random() * 1e6), nested: { list: [i, 'x'.repeat(i % 40), null, true] } }
      const body: EntryBody = { kind: 'event', data }
      const { bytes, hash } = signEntryTail(identity, { seq, prev, at }, encodeEntryTail('a/topic', body))
      const unsigned = encode([ENTRY_FORMAT_VERSION, identity.publicKey, prev, seq, at, 'a/topic', 'event', data], rfc8949EncodeOptions)
      const expected = new Uint8Array(bytes.byteLength - 66)
      expected.set(unsigned)
      expected[0] = 0x88
      const signedPart = bytes.slice(0, bytes.byteLength - 66)
      signedPart[0] = 0x88
      expect(signedPart).toEqual(expected)
      expect(hash).toEqual(sha256(bytes))
      expect(signatureValid(identity.publicKey, bytes)).toBe(true)
      expect(decodeEntry(bytes)).toMatchObject({ seq, at, topic: 'a/topic', kind: 'event', data, prev: toHex(prev) })
    }
  })

  it('refuses an entry over the size limit before signing it', () => {
    const tail = encodeEntryTail('t', { kind: 'event', data: 'x'.repeat(MAX_ENTRY_BYTES) })
    expect(() => signEntryTail(NodeIdentity.generate(), { seq: 0, prev: ZERO_HASH, at: 0 }, tail)).toThrow(/ENTRY_TOO_LARGE|limit is 65536/)
  })
})
