import { describe, expect, it } from 'vitest'
import { encode, rfc8949EncodeOptions } from 'cborg'
import { ZERO_HASH, toHex } from './bytes.js'
import { signatureValid, verifyRun } from './chain.js'
import {
  checkEntrySize,
  decodeEntry,
  encodeEntryTail,
  ENTRY_FORMAT_VERSION_TIMED,
  MAX_ENTRY_BYTES,
  peekEntry,
  peekTopicKind,
  signEntry,
  signedMessage,
} from './entry.js'
import { checkGivenTime, PLAUSIBLE_MIN_TIME_MS } from './entry-time.js'
import { NodeIdentity } from './identity.js'
import { LogDoc } from '../doc/log-doc.js'

const id = NodeIdentity.generate()
const NOW = Date.UTC(2026, 10, 27, 12)
const limits = { maxFutureMs: 60_000, minMs: PLAUSIBLE_MIN_TIME_MS }

describe('entries with an event time (format version 2)', () => {
  const fields = { seq: 3, prev: ZERO_HASH, at: NOW, topic: 'agents', body: { kind: 'event' as const, data: { step: 'plan' } } }

  it('carry the time next to at, signed, at the same fixed offsets as version 1', () => {
    const { bytes, hash } = signEntry(id, { ...fields, time: NOW - 86_400_000 })
    expect([bytes[0], bytes[1]]).toEqual([0x8a, ENTRY_FORMAT_VERSION_TIMED])
    const entry = decodeEntry(bytes)
    expect(entry).toMatchObject({
      node: id.id,
      seq: 3,
      at: NOW,
      time: NOW - 86_400_000,
      topic: 'agents',
      kind: 'event',
      data: { step: 'plan' },
      hash: toHex(hash),
    })
    expect(peekEntry(bytes)).toMatchObject({ seq: 3, at: NOW })
    expect(peekTopicKind(bytes)).toEqual({ topic: 'agents', kind: 'event' })
    expect(signatureValid(id.publicKey, bytes)).toBe(true)
    // The signed message is the array without its signature: 9 elements, header 0x89.
    expect(signedMessage(bytes)[14]).toBe(0x89)
  })

  it('are canonical CBOR of the documented 10-element array', () => {
    const { bytes } = signEntry(id, { ...fields, time: 5 })
    const sig = bytes.subarray(bytes.byteLength - 64)
    const expected = encode([2, id.publicKey, ZERO_HASH, 3, NOW, 'agents', 'event', { step: 'plan' }, 5, sig], rfc8949EncodeOptions)
    expect(toHex(bytes)).toBe(toHex(expected))
  })

  it('without a time stay version 1, byte for byte as before', () => {
    const { bytes } = signEntry(id, fields)
    expect([bytes[0], bytes[1]]).toEqual([0x89, 1])
    expect(decodeEntry(bytes)).not.toHaveProperty('time')
  })

  it('cannot have their time changed without breaking the signature', () => {
    const { bytes } = signEntry(id, { ...fields, time: 1000 })
    const forged = Uint8Array.from(bytes)
    const timeAt = bytes.byteLength - 66 - 3 // uint16 1000: 0x19 0x03 0xe8 just before the signature field
    expect([forged[timeAt], forged[timeAt + 1], forged[timeAt + 2]]).toEqual([0x19, 0x03, 0xe8])
    forged[timeAt + 2] = 0xe9
    expect(decodeEntry(forged).time).toBe(1001)
    expect(signatureValid(id.publicKey, forged)).toBe(false)
  })

  it('refuses a version-2 array without its time, and a version-1 array with one', () => {
    const sig = new Uint8Array(64)
    const v2short = encode([2, id.publicKey, ZERO_HASH, 0, NOW, 't', 'event', 1, sig], rfc8949EncodeOptions)
    const v1long = encode([1, id.publicKey, ZERO_HASH, 0, NOW, 't', 'event', 1, 5, sig], rfc8949EncodeOptions)
    expect(() => decodeEntry(v2short)).toThrow(/malformed entry/)
    expect(() => decodeEntry(v1long)).toThrow(/malformed entry/)
  })

  it('chain with version-1 entries of the same node: the time may go back, at may not', () => {
    const first = signEntry(id, { ...fields, seq: 0, at: NOW, time: NOW })
    const second = signEntry(id, { ...fields, seq: 1, prev: first.hash, at: NOW + 1 })
    const third = signEntry(id, { ...fields, seq: 2, prev: second.hash, at: NOW + 2, time: NOW - 3_600_000 })
    expect(verifyRun(id.publicKey, [first.bytes, second.bytes, third.bytes], { seq: 0, prev: ZERO_HASH, at: 0 })).toMatchObject({
      ok: true,
    })
  })

  it('count the time in the size check made before signing', () => {
    const tail = encodeEntryTail('t', { kind: 'event', data: 'x'.repeat(MAX_ENTRY_BYTES - 200) })
    expect(() => checkEntrySize(tail)).not.toThrow()
    const big = encodeEntryTail('t', { kind: 'event', data: 'x'.repeat(MAX_ENTRY_BYTES - 150) })
    expect(() => checkEntrySize(big)).toThrow(/the limit is 65536/)
  })
})

describe('checkGivenTime', () => {
  it('takes times up to the skew ahead, and any plausible past', () => {
    for (const t of [NOW, NOW + 60_000, NOW - 10 * 365 * 86_400_000, PLAUSIBLE_MIN_TIME_MS])
      expect(checkGivenTime('at', t, NOW, limits)).toBe(t)
  })

  it('refuses a time further ahead than the skew, naming the limit', () => {
    expect(() => checkGivenTime('at', 99_999_999_999_999, NOW, limits)).toThrow(
      /at 99999999999999 \(5138-11-16T09:46:39\.999Z\) is .* ahead of this node's clock .*the limit is 60000 ms/,
    )
    expect(() => checkGivenTime('time', NOW + 60_001, NOW, limits)).toThrow(expect.objectContaining({ code: 'BAD_TIME' }))
  })

  it('suggests the unit when a time looks like seconds or microseconds', () => {
    expect(() => checkGivenTime('at', Math.floor(NOW / 1000), NOW, limits)).toThrow(
      /looks like seconds since the epoch \(2026-11-27T12:00:00\.000Z\): send milliseconds, e.g. 1795780800000/,
    )
    expect(() => checkGivenTime('time', NOW * 1000, NOW, limits)).toThrow(/looks like microseconds or nanoseconds/)
    expect(() => checkGivenTime('at', 5, NOW, limits)).toThrow(/is before 1973-03-03T09:46:40\.000Z, the earliest time this node takes$/)
  })

  it('refuses values that are not non-negative integers', () => {
    for (const t of [-1, 1.5, Number.NaN, 2 ** 53])
      expect(() => checkGivenTime('at', t, NOW, limits)).toThrow(/non-negative integer of milliseconds/)
  })
})

describe('LogDoc appends with times', () => {
  it('keeps the event time as given while at never goes back, and refuses a future at without writing', () => {
    let now = NOW
    const log = new LogDoc({ identity: id, now: () => now, minTimeMs: PLAUSIBLE_MIN_TIME_MS })
    const a = log.append({ topic: 't', kind: 'event', data: 1, time: NOW - 5000 })
    now -= 10_000 // the clock went back
    const b = log.append({ topic: 't', kind: 'event', data: 2, time: NOW - 20_000 })
    expect([a.at, a.time, b.at, b.time]).toEqual([NOW, NOW - 5000, NOW, NOW - 20_000])
    expect(() => log.append({ topic: 't', kind: 'event', data: 3, at: now + 3_600_000 })).toThrow(
      expect.objectContaining({ code: 'BAD_TIME' }),
    )
    expect(log.length(id.id)).toBe(2)
    expect(log.get(id.id, 1)).toMatchObject({ at: NOW, time: NOW - 20_000 })
  })
})
