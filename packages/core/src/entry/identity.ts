import { createPublicKey, randomBytes, verify as nodeVerify, type KeyObject } from 'node:crypto'
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import * as ed from '@noble/ed25519'
import { sha512 } from '@noble/hashes/sha2.js'
import { fromHex, toHex } from './bytes.js'
import { YlogError } from '../errors.js'
import { fastestSigner, privateKeyObject, type SignFunction, type SigningBackend } from './ed25519-signing.js'

// @noble/ed25519 leaves hashing to the caller so it stays dependency-free.
ed.hashes.sha512 = sha512

/** A node id is the lowercase hex of its 32-byte Ed25519 public key. */
export type NodeId = string

export const SEED_BYTES = 32
export const PUBLIC_KEY_BYTES = 32
export const SIGNATURE_BYTES = 64

/** First line of a key file; the second line is the seed as 64 hex digits. */
export const KEY_FILE_HEADER = 'ylog-ed25519-seed v1'

// DER wrapper that lets node:crypto take a raw Ed25519 public key (RFC 8410).
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex')

const NODE_ID = /^[0-9a-f]{64}$/

export function isNodeId(value: unknown): value is NodeId {
  return typeof value === 'string' && NODE_ID.test(value)
}

/**
 * The Yjs client id a node writes under: the first 48 bits of its public key.
 * Binding client ids to keys lets the update guard tell, from a struct id
 * alone, whose part of the document an insert claims to come from. 48 bits
 * keep ids exact in a JS number and make grinding a colliding key impractical.
 */
export function clientIdOf(node: NodeId | Uint8Array): number {
  const key = typeof node === 'string' ? Buffer.from(node, 'hex') : Buffer.from(node)
  return key.readUIntBE(0, 6)
}

export class NodeIdentity {
  readonly publicKey: Uint8Array
  readonly id: NodeId
  readonly clientId: number
  /** Which library signs: libsodium where its prebuilt addon loads, else OpenSSL. Same signatures either way. */
  readonly signingBackend: SigningBackend
  readonly #seed: Uint8Array
  readonly #sign: SignFunction

  private constructor(seed: Uint8Array) {
    this.#seed = Uint8Array.from(seed)
    const { sign, backend } = fastestSigner(this.#seed)
    this.#sign = sign
    this.signingBackend = backend
    const spki = createPublicKey(privateKeyObject(this.#seed)).export({ format: 'der', type: 'spki' })
    this.publicKey = new Uint8Array(spki.subarray(SPKI_PREFIX.length))
    this.id = toHex(this.publicKey)
    this.clientId = clientIdOf(this.publicKey)
  }

  static generate(): NodeIdentity {
    return new NodeIdentity(randomBytes(SEED_BYTES))
  }

  static fromSeed(seed: Uint8Array): NodeIdentity {
    if (seed.byteLength !== SEED_BYTES) {
      throw new YlogError('BAD_KEY', `an Ed25519 seed is ${SEED_BYTES} bytes, got ${seed.byteLength}`)
    }
    return new NodeIdentity(seed)
  }

  /** Reads a key file written by `save`; refuses files others can read. */
  static load(path: string): NodeIdentity {
    let text: string
    try {
      const mode = statSync(path).mode
      if (process.platform !== 'win32' && (mode & 0o077) !== 0) {
        throw new YlogError(
          'KEY_FILE',
          `key file ${path} is readable by other users (mode ${(mode & 0o777).toString(8)}); run: chmod 600 ${path}`,
        )
      }
      text = readFileSync(path, 'utf8')
    } catch (err) {
      if (err instanceof YlogError) throw err
      throw new YlogError('KEY_FILE', `cannot read key file ${path}: ${(err as Error).message}`, { cause: err })
    }
    const [header, hex, ...rest] = text.split('\n')
    const seed = hex === undefined ? undefined : fromHex(hex.trim())
    if (header !== KEY_FILE_HEADER || seed?.byteLength !== SEED_BYTES || rest.some((l) => l.trim() !== '')) {
      throw new YlogError('KEY_FILE', `key file ${path} is not a ylog key: expected "${KEY_FILE_HEADER}" then 64 hex digits`)
    }
    return new NodeIdentity(seed)
  }

  /** Loads the key at `path`, or creates one there (mode 0600) if none exists. */
  static loadOrCreate(path: string): { identity: NodeIdentity; created: boolean } {
    try {
      statSync(path)
    } catch {
      const identity = NodeIdentity.generate()
      identity.save(path)
      return { identity, created: true }
    }
    return { identity: NodeIdentity.load(path), created: false }
  }

  /** Writes the seed with mode 0600; refuses to overwrite an existing key. */
  save(path: string): void {
    mkdirSync(dirname(path), { recursive: true })
    try {
      writeFileSync(path, `${KEY_FILE_HEADER}\n${toHex(this.#seed)}\n`, { mode: 0o600, flag: 'wx' })
    } catch (err) {
      throw new YlogError('KEY_FILE', `cannot write key file ${path}: ${(err as Error).message}`, { cause: err })
    }
    chmodSync(path, 0o600)
  }

  sign(message: Uint8Array): Uint8Array {
    return this.#sign(message)
  }

  /** The seed, for tests that compare against the reference implementation. */
  exportSeed(): Uint8Array {
    return Uint8Array.from(this.#seed)
  }
}

// Public keys repeat (one per node), so their KeyObjects are worth keeping.
const publicKeyCache = new Map<string, KeyObject>()
const PUBLIC_KEY_CACHE_LIMIT = 4096

function publicKeyObject(publicKey: Uint8Array): KeyObject {
  const hex = toHex(publicKey)
  let key = publicKeyCache.get(hex)
  if (key === undefined) {
    key = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, publicKey]), format: 'der', type: 'spki' })
    if (publicKeyCache.size >= PUBLIC_KEY_CACHE_LIMIT) publicKeyCache.clear()
    publicKeyCache.set(hex, key)
  }
  return key
}

/**
 * Verifies with OpenSSL (node:crypto): about ten times the pure-JS rate.
 * Not libsodium, though it is faster: libsodium refuses some edge-case
 * signatures OpenSSL accepts (small-order points), and every node must
 * accept exactly the same entries whatever its platform, or they diverge.
 */
export function verifySignature(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.byteLength !== PUBLIC_KEY_BYTES || signature.byteLength !== SIGNATURE_BYTES) return false
  try {
    return nodeVerify(null, message, publicKeyObject(publicKey), signature)
  } catch {
    return false
  }
}

/**
 * The reference implementation (@noble/ed25519, audited pure JS). ylog signs
 * with libsodium or node:crypto and verifies with node:crypto; tests hold
 * them all to identical results.
 */
export const referenceEd25519 = {
  publicKey: (seed: Uint8Array): Uint8Array => ed.getPublicKey(seed),
  sign: (seed: Uint8Array, message: Uint8Array): Uint8Array => ed.sign(message, seed),
  verify: (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean => {
    try {
      return ed.verify(signature, message, publicKey)
    } catch {
      return false
    }
  },
}
