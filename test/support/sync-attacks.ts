// Malicious sync messages for test/sync-fuzz.test.ts: each kind crafts its frames from a seeded PRNG and
// says how the node must answer. Kinds follow issue 13's list (and the README's "Attacks covered").
import { clientIdOf, LogDoc, NodeIdentity, sha256, signEntry, type NodeId } from '@ylog/core'
import { encodeStructGroups, ROOT_MAP, SEGMENT_SIZE } from '@ylog/core/internal'
import { craftAppend } from '@ylog/core/testing'
import { awarenessFrame, encodeAuthMessage, encodeAwareness, encodeSyncStep1, encodeSyncStep2, encodeSyncUpdate } from '@ylog/sync/testing'
import { encodeYlogAuth, entryStruct, type SyncRefusalReason } from '@ylog/sync/testing'
import * as encoding from 'lib0/encoding'
import * as Y from 'yjs'

export type Outcome =
  /** The node closes the connection, naming this reason. */
  | { close: SyncRefusalReason }
  /** The node skips this writer's entries and keeps the connection; counted once per connection and writer. */
  | { skip: 'not-member' | 'unknown-writer'; client: number }
  /** Nothing to refuse: an exact replay, an empty update. */
  | { ignore: true }
  /** Counted as this refusal, and the connection stays (a dialer the node does not list, kept as a reader). */
  | { kept: SyncRefusalReason }

export interface Attack {
  kind: string
  /** 'member': on a connection authenticated as the attacking member; 'reader': on an unauthenticated one; 'fresh': a new connection. */
  side: 'member' | 'reader' | 'fresh'
  frames: Uint8Array[]
  /** For 'fresh' handshakes: after the CHALLENGE, send a PROOF with a random signature, or prove a key that is no member. */
  then?: 'bad-proof' | 'stranger-proof'
  outcome: Outcome
}

/** What the node holds before the attacks, and the keys involved. */
export interface Scene {
  /** A replica of the node's log. */
  mirror: LogDoc
  victim: NodeId
  /** A member: the attacker's own key, with a chain on the node. */
  attacker: NodeIdentity
  /** Another member whose entries the attacker relays. */
  other: NodeIdentity
  /** A key that is no member, with entries of its own. */
  stranger: NodeIdentity
  strangerUpdate: Uint8Array
  /** Prebuilt heavy frames: 8 MiB of skip structs, and one over the frame limit. */
  skipFlood: Uint8Array
  oversized: Uint8Array
}

type Rand = () => number

const pick = <T>(rand: Rand, items: readonly T[]): T => items[Math.floor(rand() * items.length)] as T
const bytes = (rand: Rand, n: number): Uint8Array => Uint8Array.from({ length: n }, () => Math.floor(rand() * 256))

/** One node's structs in the log, as Y.decodeUpdate returns them. */
function structsOf(log: LogDoc, node: NodeIdentity): Array<Y.Item | Y.GC | Y.Skip> {
  return Y.decodeUpdate(Y.encodeStateAsUpdate(log.doc)).structs.filter((s) => s.id.client === node.clientId)
}

/** The next entry of `node`'s chain as the node holds it, with `change` applied (a forgery of some kind). */
function nextOf(scene: Scene, node: NodeIdentity, change: Partial<Parameters<typeof signEntry>[1]> = {}): Uint8Array {
  const head = scene.mirror.heads().get(node.id)
  const prev = Buffer.from(head?.hash ?? '00'.repeat(32), 'hex')
  const fields = { seq: head?.length ?? 0, prev, at: head?.at ?? 0, topic: 'fuzz', body: { kind: 'event' as const, data: 'x' } }
  return signEntry(node, { ...fields, ...change }).bytes
}

/** The update that appends `entry` to the attacker's own part. */
const own = (scene: Scene, entry: Uint8Array): Uint8Array => encodeSyncUpdate(appendTo(scene.mirror, scene.attacker, entry))
const appendTo = (log: LogDoc, node: NodeIdentity, entry: Uint8Array): Uint8Array => craftAppend(log, node.id, node.clientId, entry)
const update = (u: Uint8Array): Uint8Array => encodeSyncUpdate(u)
const close = (reason: SyncRefusalReason): Outcome => ({ close: reason })
const refused = (frame: Uint8Array, reason: SyncRefusalReason): Crafted => ({ frames: [frame], outcome: close(reason) })
const below = (rand: Rand, n: number): number => Math.floor(rand() * n)

/** The doc as the attacker sees it, writing as `client`, with `write` applied; the update it makes. */
function evilWrite(scene: Scene, client: number, write: (doc: Y.Doc) => void): Uint8Array {
  const doc = new Y.Doc({ gc: false })
  Y.applyUpdate(doc, Y.encodeStateAsUpdate(scene.mirror.doc))
  doc.clientID = client
  const sv = Y.encodeStateVector(doc)
  write(doc)
  return Y.encodeStateAsUpdate(doc, sv)
}

const segmentOf = (doc: Y.Doc, node: NodeId): Y.Array<unknown> => (doc.getMap(ROOT_MAP).get(node) as Y.Array<Y.Array<unknown>>).get(0)

/** What a kind crafts; its name and side come from the table it is in. */
type Crafted = Pick<Attack, 'frames' | 'outcome' | 'then'>
type Make = (scene: Scene, rand: Rand) => Crafted

/** Member-side kinds: the attacker authenticated with its real key. */
const MEMBER: Record<string, Make> = {
  delete: (s, r) => {
    const node = pick(r, [s.victim, s.other.id])
    return refused(update(evilWrite(s, s.attacker.clientId, (d) => segmentOf(d, node).delete(0, 1))), 'delete')
  },
  'forged-signature': (s, r) => {
    const entry = nextOf(s, s.attacker)
    const at = entry.byteLength - 1 - below(r, 64)
    entry[at] = (entry[at] as number) ^ 1
    return refused(own(s, entry), 'bad-signature')
  },
  'wrong-node': (s) => {
    // The attacker's validly signed entry, in the other member's part.
    const entry = nextOf(s, s.attacker, { seq: s.mirror.length(s.other.id) })
    return refused(update(craftAppend(s.mirror, s.other.id, s.other.clientId, entry)), 'wrong-node')
  },
  'unknown-writer': (s, r) => {
    const client = 1 + below(r, 2 ** 40)
    return { frames: [update(craftAppend(s.mirror, s.victim, client, nextOf(s, s.attacker)))], outcome: { skip: 'unknown-writer', client } }
  },
  'not-member': (s) => ({
    frames: [update(Y.mergeUpdates([s.strangerUpdate, Y.encodeStateAsUpdate(s.mirror.doc)]))],
    outcome: { skip: 'not-member', client: s.stranger.clientId },
  }),
  'bad-seq': (s, r) => {
    const length = s.mirror.length(s.attacker.id)
    return refused(own(s, nextOf(s, s.attacker, { seq: pick(r, [length + 1 + below(r, 1000), length - 1]) })), 'bad-seq')
  },
  'bad-prev': (s, r) => refused(own(s, nextOf(s, s.attacker, { prev: sha256(bytes(r, 8)) })), 'bad-prev'),
  'time-regression': (s, r) => {
    const at = (s.mirror.heads().get(s.attacker.id)?.at ?? 0) - 1 - below(r, 1e6)
    return refused(own(s, nextOf(s, s.attacker, { at })), 'time-regression')
  },
  fork: (s, r) => {
    // A different, validly signed entry at a seq the node holds: evidence the attacker forked (it already had one before).
    const seq = 1 + below(r, s.mirror.length(s.attacker.id) - 1)
    const known = s.mirror.get(s.attacker.id, seq)
    const prev = Buffer.from(known?.prev ?? '', 'hex')
    const fields = { seq, prev, at: known?.at ?? 0, topic: 'fuzz', body: { kind: 'event' as const, data: r() } }
    const branch = new LogDoc()
    for (let i = 0; i < seq; i++) branch.applyRemote(appendTo(branch, s.attacker, s.mirror.getBytes(s.attacker.id, i) as Uint8Array))
    return refused(update(appendTo(branch, s.attacker, signEntry(s.attacker, fields).bytes)), 'fork')
  },
  'foreign-structure': (s, r) => {
    const mine = (d: Y.Doc): Y.Array<unknown> => segmentOf(d, s.attacker.id)
    const [write, reason] = pick(r, [
      [(d: Y.Doc) => d.getText('notes').insert(0, 'hi'), 'foreign-structure'],
      [(d: Y.Doc) => d.getMap(ROOT_MAP).set(`x${r()}`, 1), 'foreign-structure'],
      [(d: Y.Doc) => mine(d).push([{ json: true }]), 'foreign-structure'],
      [(d: Y.Doc) => mine(d).insert(0, [bytes(r, 200)]), 'foreign-structure'],
      [(d: Y.Doc) => mine(d).push([bytes(r, 3)]), 'bad-entry'],
      [(d: Y.Doc) => mine(d).push([bytes(r, 300)]), 'bad-entry'],
      [(d: Y.Doc) => d.getMap(ROOT_MAP).set(s.attacker.id, new Y.Array()), 'delete'],
    ] as Array<[(d: Y.Doc) => void, SyncRefusalReason]>)
    return refused(update(evilWrite(s, s.attacker.clientId, write)), reason)
  },
  'garbage-update': (s, r) => refused(update(Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0x0f, ...bytes(r, 64)])), 'malformed-update'),
  'truncated-update': (s, r) => {
    const whole = Y.encodeStateAsUpdate(s.mirror.doc)
    return refused(update(whole.subarray(0, 1 + below(r, whole.byteLength - 2))), 'malformed-update')
  },
  'split-group': (s, r) => {
    const mine = structsOf(s.mirror, s.attacker)
    const cut = 1 + below(r, mine.length - 1)
    return refused(update(encodeStructGroups([mine.slice(0, cut), mine.slice(cut)])), 'malformed-update')
  },
  'split-group-relayed': (s, r) => {
    const other = structsOf(s.mirror, s.other)
    const cut = 1 + below(r, other.length - 1)
    return refused(update(encodeStructGroups([other.slice(0, cut), structsOf(s.mirror, s.attacker), other.slice(cut)])), 'malformed-update')
  },
  'fake-hole': (s, r) => {
    // An unsigned entry far ahead in the victim's own part, or another member's: held, it would announce a hole.
    const node = pick(r, [s.victim, s.other.id])
    const client = clientIdOf(node)
    const drawn = 1000 + below(r, 1e6)
    const seq = drawn % SEGMENT_SIZE === 0 ? drawn + 1 : drawn // a segment's first entry has a parent, not an origin
    const fields = { seq, prev: new Uint8Array(32), at: 1, topic: 'fuzz', body: { kind: 'event' as const, data: null } }
    const entry = signEntry(NodeIdentity.generate(), fields).bytes
    entry.set(Buffer.from(node, 'hex'), 4)
    return refused(update(encodeStructGroups([[entryStruct(client, seq, entry)]])), 'bad-signature')
  },
  replay: (s, r) => {
    const encode = r() < 0.5 ? encodeSyncStep2 : encodeSyncUpdate
    return { frames: [encode(Y.encodeStateAsUpdate(s.mirror.doc))], outcome: { ignore: true } }
  },
  'second-hello': (s) => refused(hello(s.attacker, 'ylog'), 'auth-failed'),
}

/** Kinds for a connection without a key. */
const READER: Record<string, Make> = {
  'reader-write': (s) => refused(own(s, nextOf(s, s.attacker)), 'read-only'),
  'reader-replay': (s) => refused(encodeSyncStep2(Y.encodeStateAsUpdate(s.mirror.doc)), 'read-only'),
  'reader-delete': (s, r) => refused(update(evilWrite(s, 1 + below(r, 1e9), (d) => segmentOf(d, s.victim).delete(0, 1))), 'read-only'),
  'reader-garbage-update': (s, r) => refused(update(bytes(r, 3 + below(r, 200))), 'read-only'),
  'reader-empty-update': () => ({ frames: [encodeSyncStep2(Uint8Array.of(0, 0))], outcome: { ignore: true } }),
  'garbage-frame': (s, r) => refused(Uint8Array.from([0x7f, ...bytes(r, 8 + below(r, 200))]), 'malformed-frame'),
  'truncated-frame': () => refused(Uint8Array.of(0, 1, 0xff, 0xff, 0xff), 'malformed-frame'),
  'unknown-sync-type': (s, r) => refused(Uint8Array.of(0, 3 + below(r, 100), 0), 'malformed-frame'),
  'trailing-bytes': () => refused(Uint8Array.of(0, 2, 2, 0, 0, 7), 'malformed-frame'),
  'bad-state-vector': (s, r) => refused(encodeSyncStep1(pick(r, [Uint8Array.of(0xff), manyClients()])), 'malformed-frame'),
  'permission-denied': () => refused(Uint8Array.of(2, 0, 2, 0x68, 0x69), 'malformed-frame'),
  'awareness-flood': (s, r) => refused(awarenessFrame(1 + below(r, 1e9), 9 + below(r, 5000), 'null'), 'awareness-limit'),
  'awareness-too-big': (s, r) => refused(awarenessFrame(1 + below(r, 1e9), 1, `"${'x'.repeat(70_000)}"`), 'awareness-limit'),
  // One state claiming 100 bytes where 10 follow.
  'awareness-garbage': (s, r) => refused(encodeAwareness(Uint8Array.from([1, 5, 1, 100, ...bytes(r, 10)])), 'malformed-frame'),
}

/** Handshakes that go wrong, each on a new connection. */
const FRESH: Record<string, Make> = {
  'auth-garbage': (s, r) => refused(encodeYlogAuth(bytes(r, 1 + below(r, 40))), 'auth-failed'),
  'auth-too-big': (s, r) => refused(encodeYlogAuth(bytes(r, 5000)), 'auth-failed'),
  'auth-wrong-cluster': (s) => refused(hello(s.attacker, 'other'), 'auth-failed'),
  'auth-proof-first': (s, r) => refused(encodeYlogAuth(encodeAuthMessage({ kind: 'proof', sig: bytes(r, 64) })), 'auth-failed'),
  'auth-bad-proof': (s) => ({ ...refused(hello(s.attacker, 'ylog'), 'auth-failed'), then: 'bad-proof' }),
  'auth-stranger': () => ({ frames: [], then: 'stranger-proof', outcome: { kept: 'auth-failed' } }),
}

/** Kinds whose frames are 8 or 16 MiB: drawn one time in HEAVY_ODDS. */
const HEAVY: Record<string, [Attack['side'], Make]> = {
  'skip-flood': ['member', (s) => refused(s.skipFlood, 'malformed-update')],
  'reader-skip-flood': ['reader', (s) => refused(s.skipFlood, 'read-only')],
  oversized: ['reader', (s) => refused(s.oversized, 'frame-too-large')],
}
const HEAVY_ODDS = 80

const TABLES: Array<[Attack['side'], Record<string, Make>]> = [
  ['member', MEMBER],
  ['reader', READER],
  ['fresh', FRESH],
]

export const KINDS = [...TABLES.flatMap(([, table]) => Object.keys(table)), ...Object.keys(HEAVY)]

/** One attack of a given kind. */
export function craft(kind: string, scene: Scene, rand: Rand): Attack {
  const heavy = HEAVY[kind]
  if (heavy !== undefined) return { kind, side: heavy[0], ...heavy[1](scene, rand) }
  const [side, table] = TABLES.find(([, t]) => t[kind] !== undefined) ?? []
  if (side === undefined || table === undefined) throw new Error(`no attack kind ${kind}`)
  return { kind, side, ...(table[kind] as Make)(scene, rand) }
}

/** The next attack: one kind in HEAVY_ODDS is a heavy one; otherwise a kind drawn uniformly. */
export function nextAttack(scene: Scene, rand: Rand): Attack {
  const kinds = rand() * HEAVY_ODDS < 1 ? Object.keys(HEAVY) : TABLES.flatMap(([, table]) => Object.keys(table))
  return craft(pick(rand, kinds), scene, rand)
}

function hello(identity: NodeIdentity, cluster: string): Uint8Array {
  return encodeYlogAuth(encodeAuthMessage({ kind: 'hello', node: identity.publicKey, nonce: new Uint8Array(32), cluster }))
}

function manyClients(): Uint8Array {
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, 100_000)
  for (let i = 0; i < 100_000; i++) {
    encoding.writeVarUint(e, i + 1)
    encoding.writeVarUint(e, 1)
  }
  return encoding.toUint8Array(e)
}
