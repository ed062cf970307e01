import { createRequire } from 'node:module'
import { createPrivateKey, sign as nodeSign, type KeyObject } from 'node:crypto'

/**
 * Ed25519 signing for one seed. Signatures are deterministic (RFC 8032), so
 * every backend produces the same bytes for the same key and message; the
 * choice changes speed only, never what a peer receives.
 */
export type SignFunction = (message: Uint8Array) => Uint8Array

export type SigningBackend = 'libsodium' | 'openssl'

// DER wrapper that lets node:crypto take a raw Ed25519 seed (RFC 8410).
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex')

interface Sodium {
  crypto_sign_seed_keypair(pk: Uint8Array, sk: Uint8Array, seed: Uint8Array): void
  crypto_sign_detached(sig: Uint8Array, message: Uint8Array, sk: Uint8Array): void
}

// Loaded lazily and once. A platform without a libsodium prebuild falls back to OpenSSL.
let sodium: Sodium | null | undefined

function loadSodium(): Sodium | null {
  if (sodium === undefined) {
    try {
      sodium = createRequire(import.meta.url)('sodium-native') as Sodium
    } catch {
      sodium = null
    }
  }
  return sodium
}

/** libsodium's signer: about twice node:crypto's rate here (docs/benchmarks.md, core.sign_rate). */
export function libsodiumSigner(seed: Uint8Array): SignFunction | undefined {
  const lib = loadSodium()
  if (lib === null) return undefined
  const publicKey = new Uint8Array(32)
  const secretKey = new Uint8Array(64)
  lib.crypto_sign_seed_keypair(publicKey, secretKey, seed)
  return (message) => {
    const signature = new Uint8Array(64)
    lib.crypto_sign_detached(signature, message, secretKey)
    return signature
  }
}

export function privateKeyObject(seed: Uint8Array): KeyObject {
  return createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' })
}

/** OpenSSL through node:crypto: always present. */
export function opensslSigner(seed: Uint8Array): SignFunction {
  const key = privateKeyObject(seed)
  return (message) => new Uint8Array(nodeSign(null, message, key))
}

/** The fastest signer this platform has, and its name. */
export function fastestSigner(seed: Uint8Array): { sign: SignFunction; backend: SigningBackend } {
  const fast = libsodiumSigner(seed)
  return fast === undefined ? { sign: opensslSigner(seed), backend: 'openssl' } : { sign: fast, backend: 'libsodium' }
}
