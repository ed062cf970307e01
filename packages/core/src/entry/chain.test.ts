import { describe, expect, it } from 'vitest'
import { ZERO_HASH } from './bytes.js'
import { verifyRun } from './chain.js'
import { signEntry } from './entry.js'
import { NodeIdentity } from './identity.js'

const id = NodeIdentity.generate()

function makeRun(n: number): Uint8Array[] {
  const run: Uint8Array[] = []
  let prev = ZERO_HASH
  for (let seq = 0; seq < n; seq++) {
    const { bytes, hash } = signEntry(id, { seq, prev, at: 1000 + seq, topic: 't', body: { kind: 'event', data: { seq } } })
    run.push(bytes)
    prev = hash
  }
  return run
}

const start = { seq: 0, prev: ZERO_HASH, at: 0 }

describe('verifyRun', () => {
  const run = makeRun(50)

  it('accepts a well-linked run and returns every hash', () => {
    const verdict = verifyRun(id.publicKey, run, start)
    expect(verdict.ok).toBe(true)
    if (verdict.ok) expect(verdict.hashes).toHaveLength(50)
  })

  it.each([0, 1, 17, 48, 49])('locates a tampered entry at index %i exactly', (k) => {
    const copy = run.map((b) => Uint8Array.from(b))
    const bytes = copy[k] as Uint8Array
    bytes[bytes.byteLength - 70] = (bytes[bytes.byteLength - 70] as number) ^ 0xff // inside data
    const verdict = verifyRun(id.publicKey, copy, start)
    expect(verdict).toMatchObject({ ok: false, index: k, seq: k })
  })

  it.each([0, 20, 49])('locates a replaced signature at index %i exactly', (k) => {
    const copy = run.map((b) => Uint8Array.from(b))
    const bytes = copy[k] as Uint8Array
    bytes[bytes.byteLength - 1] = (bytes[bytes.byteLength - 1] as number) ^ 0x01
    expect(verifyRun(id.publicKey, copy, start)).toMatchObject({ ok: false, index: k, reason: 'bad-signature' })
  })

  it('refuses a run that does not start at the expected seq or prev', () => {
    expect(verifyRun(id.publicKey, run.slice(1), start)).toMatchObject({ ok: false, index: 0, reason: 'bad-seq' })
    expect(verifyRun(id.publicKey, run.slice(1), { seq: 1, prev: ZERO_HASH, at: 0 })).toMatchObject({
      ok: false,
      index: 0,
      reason: 'bad-prev',
    })
  })

  it('refuses a run with a missing entry at the gap', () => {
    const gapped = [...run.slice(0, 10), ...run.slice(11)]
    expect(verifyRun(id.publicKey, gapped, start)).toMatchObject({ ok: false, index: 10, seq: 10, reason: 'bad-seq' })
  })

  it("refuses another node's entries", () => {
    expect(verifyRun(NodeIdentity.generate().publicKey, run, start)).toMatchObject({ ok: false, index: 0, reason: 'wrong-node' })
  })

  it('refuses an entry whose time goes back', () => {
    const first = signEntry(id, { seq: 0, prev: ZERO_HASH, at: 5000, topic: 't', body: { kind: 'event', data: 0 } })
    const second = signEntry(id, { seq: 1, prev: first.hash, at: 4999, topic: 't', body: { kind: 'event', data: 1 } })
    expect(verifyRun(id.publicKey, [first.bytes, second.bytes], start)).toMatchObject({ ok: false, index: 1, reason: 'time-regression' })
  })
})
