import { describe, expect, it } from 'vitest'
import { decodeCursor, encodeCursor, START } from './cursor.js'
import { NodeIdentity } from './identity.js'

describe('cursors', () => {
  it('round-trip through their opaque string form', () => {
    const a = NodeIdentity.generate().id
    const b = NodeIdentity.generate().id
    const cursor = new Map([
      [a, 7],
      [b, 123456],
    ])
    const text = encodeCursor(cursor)
    expect(text).toMatch(/^c1\.[A-Za-z0-9_-]+$/)
    expect(decodeCursor(text)).toEqual(cursor)
    expect(
      encodeCursor(
        new Map([
          [b, 123456],
          [a, 7],
        ]),
      ),
    ).toBe(text)
  })

  it('treat the empty string as the start of the log', () => {
    expect(decodeCursor('')).toBe(START)
    expect(decodeCursor(encodeCursor(START)).size).toBe(0)
  })

  it.each(['nope', 'c1.!!', 'c1.AAAA', 'c2.gA', `c1.${Buffer.from([0x81, 0x82, 0x41, 0x00, 0x01]).toString('base64url')}`])(
    'refuses %j with BAD_CURSOR',
    (text) => {
      expect(() => decodeCursor(text)).toThrow(expect.objectContaining({ code: 'BAD_CURSOR' }))
    },
  )
})
