import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { toHex } from './bytes.js'
import { fastestSigner, libsodiumSigner, opensslSigner } from './ed25519-signing.js'
import { NodeIdentity, referenceEd25519 } from './identity.js'

describe('Ed25519 signing backends', () => {
  it('loads libsodium on this platform (a prebuilt addon ships for linux-x64)', () => {
    expect(libsodiumSigner(randomBytes(32))).toBeTypeOf('function')
    expect(fastestSigner(randomBytes(32)).backend).toBe('libsodium')
    expect(NodeIdentity.generate().signingBackend).toBe('libsodium')
  })

  it('libsodium, OpenSSL and the reference sign byte for byte alike (500 random keys and messages)', () => {
    for (let i = 0; i < 500; i++) {
      const seed = randomBytes(32)
      // Sizes around SHA-512's 128-byte block and an entry's usual few hundred bytes.
      const message = randomBytes([0, 1, 63, 64, 127, 128, 129, 470, 1000][i % 9] as number)
      const reference = toHex(referenceEd25519.sign(seed, message))
      expect(toHex((libsodiumSigner(seed) as (m: Uint8Array) => Uint8Array)(message))).toBe(reference)
      expect(toHex(opensslSigner(seed)(message))).toBe(reference)
    }
  })

  it('signs a view into a larger buffer over the view only', () => {
    const seed = randomBytes(32)
    const buffer = randomBytes(600)
    const view = new Uint8Array(buffer.buffer, buffer.byteOffset + 17, 300)
    const sign = libsodiumSigner(seed) as (m: Uint8Array) => Uint8Array
    expect(toHex(sign(view))).toBe(toHex(referenceEd25519.sign(seed, Uint8Array.from(view))))
  })
})
