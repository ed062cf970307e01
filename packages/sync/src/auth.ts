/*
 * Mutual peer authentication on message type 100 (protocol.ts). Each auth
 * message is a CBOR array (cborg) whose first element is its kind:
 *
 *   HELLO      [0, clientNode: bytes(32), nonceC: bytes(32), cluster: text]   dialer -> server
 *   CHALLENGE  [1, serverNode: bytes(32), nonceS: bytes(32), sigS: bytes(64)] server -> dialer
 *   PROOF      [2, sigC: bytes(64)]                                           dialer -> server
 *   RESULT     [3, ok: bool, reason: text]                                    server -> dialer
 *
 * Nodes are raw Ed25519 public keys. Both signatures cover
 *
 *   utf8("ylog-sync-auth-v1\n") || CBOR([cluster, role, nonceC, nonceS, clientNode, serverNode])
 *
 * with role "server" for sigS and "client" for sigC. The CBOR array keeps the
 * fields unambiguous (no concatenation tricks). Each side contributes a fresh
 * random nonce per connection, so a recorded signature proves nothing on any
 * other connection: a replayed PROOF fails against the new nonceS, a replayed
 * CHALLENGE against the new nonceC. The role keeps a server signature from
 * being reflected back as a client proof.
 */
import { randomBytes } from 'node:crypto'
import { decode, encode } from 'cborg'
import { isNodeId, toHex, verifySignature, type NodeId, type NodeIdentity } from '@ylog/core'
import { protocolError } from './protocol.js'

const AUTH_CONTEXT = new TextEncoder().encode('ylog-sync-auth-v1\n')
const NONCE_BYTES = 32
/** A RESULT with a reason of 1024 characters (the longest taken) fits with room to spare. */
export const MAX_AUTH_MESSAGE_BYTES = 4096

export type AuthMessage =
  | { kind: 'hello'; node: Uint8Array; nonce: Uint8Array; cluster: string }
  | { kind: 'challenge'; node: Uint8Array; nonce: Uint8Array; sig: Uint8Array }
  | { kind: 'proof'; sig: Uint8Array }
  /** `readOnly`: refused as a writer, kept as a reader (the connection may follow the log). */
  | { kind: 'result'; ok: boolean; reason: string; readOnly?: boolean }

export function encodeAuthMessage(message: AuthMessage): Uint8Array {
  switch (message.kind) {
    case 'hello':
      return encode([0, message.node, message.nonce, message.cluster])
    case 'challenge':
      return encode([1, message.node, message.nonce, message.sig])
    case 'proof':
      return encode([2, message.sig])
    case 'result':
      return encode(message.readOnly === true ? [3, message.ok, message.reason, true] : [3, message.ok, message.reason])
  }
}

const isBytes = (value: unknown, length: number): value is Uint8Array => value instanceof Uint8Array && value.byteLength === length

/** Decodes and shape-checks one auth message; throws a PROTOCOL error otherwise. */
export function decodeAuthMessage(bytes: Uint8Array): AuthMessage {
  // The largest honest one (a RESULT with a long reason) is far below this; a big CBOR array would cost its decode first.
  if (bytes.byteLength > MAX_AUTH_MESSAGE_BYTES) throw protocolError(`an auth message of ${bytes.byteLength} bytes`)
  let value: unknown
  try {
    value = decode(bytes)
  } catch (err) {
    throw protocolError(`auth message is not CBOR: ${(err as Error).message}`, { cause: err })
  }
  if (!Array.isArray(value)) throw protocolError('auth message is not an array')
  const [kind, a, b, c] = value as unknown[]
  if (kind === 0 && value.length === 4 && isBytes(a, 32) && isBytes(b, NONCE_BYTES) && typeof c === 'string' && c.length <= 256) {
    return { kind: 'hello', node: a, nonce: b, cluster: c }
  }
  if (kind === 1 && value.length === 4 && isBytes(a, 32) && isBytes(b, NONCE_BYTES) && isBytes(c, 64))
    return { kind: 'challenge', node: a, nonce: b, sig: c }
  if (kind === 2 && value.length === 2 && isBytes(a, 64)) return { kind: 'proof', sig: a }
  if (kind === 3 && value.length === 3 && typeof a === 'boolean' && typeof b === 'string' && b.length <= 1024)
    return { kind: 'result', ok: a, reason: b }
  if (kind === 3 && value.length === 4 && typeof a === 'boolean' && typeof b === 'string' && b.length <= 1024 && c === true) {
    return { kind: 'result', ok: a, reason: b, readOnly: true }
  }
  throw protocolError('auth message has an unknown kind or shape')
}

function transcript(
  role: 'server' | 'client',
  cluster: string,
  nonceC: Uint8Array,
  nonceS: Uint8Array,
  clientNode: Uint8Array,
  serverNode: Uint8Array,
): Uint8Array {
  const body = encode([cluster, role, nonceC, nonceS, clientNode, serverNode])
  const out = new Uint8Array(AUTH_CONTEXT.byteLength + body.byteLength)
  out.set(AUTH_CONTEXT)
  out.set(body, AUTH_CONTEXT.byteLength)
  return out
}

/** `notMember`: the proof was valid, only the membership check failed (the server may keep such a dialer as a reader). */
export type AuthStep<T> = { ok: true; value: T } | { ok: false; reason: string; notMember?: true }

/** The server's half: one per connection, so its nonce is never reused. */
export class ServerHandshake {
  readonly #identity: NodeIdentity
  readonly #cluster: string
  readonly #isMember: (node: NodeId) => boolean
  #hello: { node: Uint8Array; nonce: Uint8Array } | undefined
  #nonce: Uint8Array | undefined
  #done = false

  constructor(identity: NodeIdentity, cluster: string, isMember: (node: NodeId) => boolean) {
    this.#identity = identity
    this.#cluster = cluster
    this.#isMember = isMember
  }

  /** Answers HELLO with CHALLENGE. One HELLO per connection. */
  hello(message: AuthMessage): AuthStep<AuthMessage> {
    if (message.kind !== 'hello') return { ok: false, reason: `expected HELLO, got ${message.kind.toUpperCase()}` }
    if (this.#hello !== undefined || this.#done) return { ok: false, reason: 'a second HELLO on one connection' }
    if (message.cluster !== this.#cluster)
      return { ok: false, reason: `wrong cluster ${JSON.stringify(message.cluster)}, this node serves ${JSON.stringify(this.#cluster)}` }
    this.#hello = { node: message.node, nonce: message.nonce }
    this.#nonce = new Uint8Array(randomBytes(NONCE_BYTES))
    const sig = this.#identity.sign(transcript('server', this.#cluster, message.nonce, this.#nonce, message.node, this.#identity.publicKey))
    return { ok: true, value: { kind: 'challenge', node: this.#identity.publicKey, nonce: this.#nonce, sig } }
  }

  /** Checks PROOF; on success the connection speaks for the returned node. */
  proof(message: AuthMessage): AuthStep<NodeId> {
    const hello = this.#hello
    const nonce = this.#nonce
    if (message.kind !== 'proof' || hello === undefined || nonce === undefined || this.#done)
      return { ok: false, reason: `unexpected ${message.kind.toUpperCase()}` }
    this.#done = true
    const node = toHex(hello.node)
    if (
      !verifySignature(
        hello.node,
        transcript('client', this.#cluster, hello.nonce, nonce, hello.node, this.#identity.publicKey),
        message.sig,
      )
    ) {
      return { ok: false, reason: `bad proof signature for node ${node}` }
    }
    if (!isNodeId(node) || !this.#isMember(node)) return { ok: false, reason: `node ${node} is not a member`, notMember: true }
    return { ok: true, value: node }
  }
}

/** The dialer's half: one per connection attempt. */
export class ClientHandshake {
  readonly #identity: NodeIdentity
  readonly #cluster: string
  readonly #isMember: (node: NodeId) => boolean
  readonly #expect: NodeId | undefined
  readonly #nonce = new Uint8Array(randomBytes(NONCE_BYTES))
  #answered = false

  constructor(identity: NodeIdentity, cluster: string, isMember: (node: NodeId) => boolean, expectServer?: NodeId) {
    this.#identity = identity
    this.#cluster = cluster
    this.#isMember = isMember
    this.#expect = expectServer
  }

  hello(): AuthMessage {
    return { kind: 'hello', node: this.#identity.publicKey, nonce: this.#nonce, cluster: this.#cluster }
  }

  /** Verifies the server's CHALLENGE and answers with PROOF; returns the server's node too. */
  challenge(message: AuthMessage): AuthStep<{ proof: AuthMessage; server: NodeId }> {
    if (message.kind !== 'challenge' || this.#answered) return { ok: false, reason: `unexpected ${message.kind.toUpperCase()}` }
    this.#answered = true
    const server = toHex(message.node)
    if (this.#expect !== undefined && server !== this.#expect)
      return { ok: false, reason: `server is node ${server}, expected ${this.#expect}` }
    if (
      !verifySignature(
        message.node,
        transcript('server', this.#cluster, this.#nonce, message.nonce, this.#identity.publicKey, message.node),
        message.sig,
      )
    ) {
      return { ok: false, reason: `bad challenge signature from node ${server}` }
    }
    if (!this.#isMember(server)) return { ok: false, reason: `server node ${server} is not a member` }
    const sig = this.#identity.sign(transcript('client', this.#cluster, this.#nonce, message.nonce, this.#identity.publicKey, message.node))
    return { ok: true, value: { proof: { kind: 'proof', sig }, server } }
  }
}
