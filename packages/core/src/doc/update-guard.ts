import * as Y from 'yjs'
import { bytesEqual, toHex } from '../entry/bytes.js'
import { signatureValid, verifyRun } from '../entry/chain.js'
import { checkEntry, decodeEntry, type CheckedEntry, type Entry } from '../entry/entry.js'
import { clientIdOf, isNodeId, type NodeId } from '../entry/identity.js'
import { ROOT_MAP, roleOfClock, segmentClock } from './layout.js'
import { ScanRefusal, scanUpdate } from './update-scan.js'

export type RefusalReason =
  | 'malformed-update'
  | 'delete'
  | 'foreign-structure'
  | 'unknown-writer'
  | 'not-member'
  | 'bad-entry'
  | 'wrong-node'
  | 'bad-seq'
  | 'bad-prev'
  | 'time-regression'
  | 'bad-signature'
  | 'fork'

/** Two validly signed entries for one (node, seq): proof the node forked. */
export interface ForkEvidence {
  node: NodeId
  seq: number
  entries: [Entry, Entry]
}

/** What the guard needs to know about one node's part of the local log. */
export interface NodeHead {
  node: NodeId
  publicKey: Uint8Array
  /** Next seq this node will write (= number of entries held locally). */
  next: number
  /** Hash of entry next-1, or the zero hash. */
  hash: Uint8Array
  /** `at` of entry next-1, or 0. */
  at: number
}

/** The read-only view of local state that `checkUpdate` decides against. */
export interface GuardView {
  /** Yjs clock the client has written up to locally (Y.getState). */
  stateOf(client: number): number
  headOfClient(client: number): NodeHead | undefined
  isMember(node: NodeId): boolean
  entryBytes(node: NodeId, seq: number): Uint8Array | undefined
}

/** A verified run of new entries for one node, ready to apply. */
export interface AcceptedRun {
  node: NodeId
  publicKey: Uint8Array
  client: number
  fromSeq: number
  entries: Uint8Array[]
  hashes: Uint8Array[]
  lastAt: number
}

export type Verdict =
  /** `ends`: per client the update names, the Yjs clock it must have once applied (what LogDoc checks afterwards). */
  | { status: 'accept'; runs: AcceptedRun[]; ends: Map<number, number> }
  /** Some structs depend on ones not received yet; nothing was checked against the chain. */
  | {
      status: 'hold'
      waiting: Array<{ node: NodeId | undefined; client: number; fromClock: number; resumeAt: number; maxSeq: number | undefined }>
    }
  | { status: 'refuse'; reason: RefusalReason; detail: string; fork?: ForkEvidence }

class Refusal extends Error {
  constructor(
    readonly reason: RefusalReason,
    readonly detail: string,
    readonly fork?: ForkEvidence,
  ) {
    super(detail)
  }
}

interface ClientPlan {
  client: number
  node: NodeId | undefined
  publicKey: Uint8Array | undefined
  head: NodeHead | undefined
  /** New entries that continue the local chain without a gap. */
  run: Uint8Array[]
  runFrom: number
  lastAt: number
  /** Next clock expected while walking this update. */
  cursor: number
  /** Whether this update brings new structs for the client. */
  writes: boolean
  /** Clock from which structs are missing, if any. */
  missingFrom: number | undefined
  /** First clock after the missing ones: the update can be decided once the local state reaches it. */
  resumeAt: number | undefined
  /** The held entry with the highest seq: what the hold tells the log about this node's length. */
  maxHeld: { seq: number; bytes: Uint8Array } | undefined
}

/**
 * Decides, before anything is applied, whether a Yjs update from elsewhere
 * may enter the log. Pure: it reads `view` and the update, changes nothing.
 *
 * Accepted: only appends to entry structures in the exact layout (layout.ts),
 * each entry well formed, at the next seq of its node, linked to the node's
 * previous entry, signed by a member (one signature per run, see verifyRun).
 * Structs the log already has are allowed when byte-identical; a different
 * validly signed entry at a known (node, seq) is a fork and comes back as
 * evidence. Structs that follow a missing one are checked for layout, then
 * the update is held until the gap is filled; the held entry with the
 * highest seq must be validly signed, since the hold announces that seq.
 *
 * The update's bytes are first scanned (update-scan.ts), so that what is
 * decoded here is what Y.applyUpdate applies, and so that a frame of tiny
 * structs is refused before millions of objects are built from it.
 */
export function checkUpdate(view: GuardView, update: Uint8Array): Verdict {
  try {
    return decide(view, update)
  } catch (err) {
    if (err instanceof Refusal) return { status: 'refuse', reason: err.reason, detail: err.detail, ...(err.fork ? { fork: err.fork } : {}) }
    throw err
  }
}

function decide(view: GuardView, update: Uint8Array): Verdict {
  try {
    scanUpdate(update)
  } catch (err) {
    if (err instanceof ScanRefusal) throw new Refusal(err.reason, err.detail)
    throw err
  }
  let decoded: { structs: Array<Y.Item | Y.GC | Y.Skip>; ds: { clients: Map<number, unknown[]> } }
  try {
    decoded = Y.decodeUpdate(update) as unknown as typeof decoded
  } catch (err) {
    throw new Refusal('malformed-update', `update does not decode: ${(err as Error).message}`)
  }
  if (decoded.ds.clients.size > 0) {
    throw new Refusal('delete', `update deletes structs of ${decoded.ds.clients.size} client(s); the log is grow-only`)
  }

  const plans = new Map<number, ClientPlan>()
  for (const struct of decoded.structs) {
    const client = struct.id.client
    let plan = plans.get(client)
    if (plan === undefined) {
      const head = view.headOfClient(client)
      plan = {
        client,
        node: head?.node,
        publicKey: head?.publicKey,
        head,
        run: [],
        runFrom: head?.next ?? 0,
        lastAt: head?.at ?? 0,
        cursor: view.stateOf(client),
        writes: false,
        missingFrom: undefined,
        resumeAt: undefined,
        maxHeld: undefined,
      }
      plans.set(client, plan)
    }
    checkStruct(view, plan, struct)
  }

  for (const plan of plans.values()) {
    if (plan.writes && plan.node !== undefined && !view.isMember(plan.node)) {
      throw new Refusal('not-member', `node ${short(plan.node)} is not a member of this log`)
    }
  }
  const waiting = [...plans.values()].filter((p) => p.missingFrom !== undefined)
  if (waiting.length > 0) {
    for (const p of waiting) {
      // Only a signed entry may say that a node has entries up to its seq (holes() reports it).
      if (p.maxHeld !== undefined && !signatureValid(p.publicKey as Uint8Array, p.maxHeld.bytes)) {
        throw new Refusal('bad-signature', `node ${short(p.node as NodeId)} seq ${p.maxHeld.seq}: a held entry the node did not sign`)
      }
    }
    const holds = waiting.map((p) => ({
      node: p.node,
      client: p.client,
      fromClock: p.missingFrom as number,
      resumeAt: p.resumeAt ?? 0,
      maxSeq: p.maxHeld?.seq,
    }))
    return { status: 'hold', waiting: holds }
  }

  const runs: AcceptedRun[] = []
  for (const plan of plans.values()) {
    if (plan.run.length === 0) continue
    const node = plan.node as NodeId
    const publicKey = plan.publicKey as Uint8Array
    const verdict = verifyRun(publicKey, plan.run, {
      seq: plan.runFrom,
      prev: plan.head?.hash ?? new Uint8Array(32),
      at: plan.head?.at ?? 0,
    })
    if (!verdict.ok) throw new Refusal(verdict.reason, `node ${short(node)} seq ${verdict.seq}: ${verdict.detail}`)
    runs.push({
      node,
      publicKey,
      client: plan.client,
      fromSeq: plan.runFrom,
      entries: plan.run,
      hashes: verdict.hashes,
      lastAt: plan.lastAt,
    })
  }
  return { status: 'accept', runs, ends: new Map([...plans.values()].map((p) => [p.client, p.cursor])) }
}

function checkStruct(view: GuardView, plan: ClientPlan, struct: Y.Item | Y.GC | Y.Skip): void {
  const { client, clock } = struct.id
  if (struct instanceof Y.Skip) return
  if (struct instanceof Y.GC) throw new Refusal('delete', `client ${client} clock ${clock}: a GC struct stands for deleted content`)
  const item = struct as Y.Item
  if (item.length !== 1)
    throw new Refusal(
      'foreign-structure',
      `client ${client} clock ${clock}: a struct of length ${item.length}; the log holds one entry per struct`,
    )

  const role = roleOfClock(clock)
  const local = view.stateOf(client)
  if (role.role === 'root') {
    if (plan.node === undefined) bindNode(view, plan, item)
  } else if (plan.node === undefined) {
    // Nothing of this client is known and its first struct is not here.
    plan.missingFrom ??= 0
    plan.resumeAt ??= clock
    return
  }

  if (clock < local) {
    if (role.role === 'entry') compareKnownEntry(view, plan, item, role.seq)
    return
  }

  checkLayout(plan, item)
  plan.writes = true
  if (clock !== plan.cursor) {
    if (clock < plan.cursor) throw new Refusal('malformed-update', `client ${client} clock ${clock} appears twice in one update`)
    plan.missingFrom ??= plan.cursor
    plan.resumeAt ??= clock
  }
  plan.cursor = clock + 1
  if (role.role !== 'entry') return

  const bytes = (item.content as Y.ContentBinary).content
  let entry: CheckedEntry
  try {
    entry = checkEntry(bytes)
  } catch (err) {
    throw new Refusal('bad-entry', `node ${short(plan.node as NodeId)} clock ${clock}: ${(err as Error).message}`)
  }
  if (!bytesEqual(entry.node, plan.publicKey as Uint8Array))
    throw new Refusal('wrong-node', `entry of node ${short(toHex(entry.node))} placed in the part of node ${short(plan.node as NodeId)}`)
  if (entry.seq !== role.seq)
    throw new Refusal('bad-seq', `node ${short(plan.node as NodeId)}: entry with seq ${entry.seq} sits at the place of seq ${role.seq}`)
  if (plan.missingFrom !== undefined) {
    if (entry.seq >= (plan.maxHeld?.seq ?? 0)) plan.maxHeld = { seq: entry.seq, bytes }
    return
  }
  plan.run.push(bytes)
  plan.lastAt = entry.at
}

function bindNode(view: GuardView, plan: ClientPlan, item: Y.Item): void {
  const node = item.parentSub
  if (node === null || !isNodeId(node) || clientIdOf(node) !== plan.client) {
    throw new Refusal('unknown-writer', `client ${plan.client} is not the Yjs client of any node key (claims ${JSON.stringify(node)})`)
  }
  plan.node = node
  plan.publicKey = new Uint8Array(Buffer.from(node, 'hex'))
}

function checkLayout(plan: ClientPlan, item: Y.Item): void {
  const { client, clock } = item.id
  const role = roleOfClock(clock)
  const where = `node ${short(plan.node as NodeId)} clock ${clock}`
  const fail = (what: string): never => {
    throw new Refusal('foreign-structure', `${where}: ${what}`)
  }
  if (item.rightOrigin !== null) fail('inserts before an existing struct; the log only appends')
  switch (role.role) {
    case 'root':
      if (!isArrayType(item) || (item.parent as unknown) !== ROOT_MAP || item.parentSub !== plan.node || item.origin !== null)
        fail(`expected the node's segment array under "${ROOT_MAP}"`)
      return
    case 'segment':
      if (!isArrayType(item) || item.parentSub !== null) fail(`expected segment ${role.segment}`)
      if (
        role.segment === 0
          ? !(item.origin === null && isId(item.parent, client, 0))
          : !(item.parent === null && isId(item.origin, client, segmentClock(role.segment - 1)))
      ) {
        fail(`segment ${role.segment} is not appended to the node's segment array`)
      }
      return
    case 'entry':
      if (!(item.content instanceof Y.ContentBinary) || item.parentSub !== null) fail(`expected the binary entry for seq ${role.seq}`)
      if (
        role.index === 0
          ? !(item.origin === null && isId(item.parent, client, segmentClock(role.segment)))
          : !(item.parent === null && isId(item.origin, client, clock - 1))
      ) {
        fail(`entry seq ${role.seq} is not appended to its segment`)
      }
  }
}

function compareKnownEntry(view: GuardView, plan: ClientPlan, item: Y.Item, seq: number): void {
  const node = plan.node as NodeId
  const local = view.entryBytes(node, seq)
  const incoming = item.content instanceof Y.ContentBinary ? item.content.content : undefined
  if (local !== undefined && incoming !== undefined && bytesEqual(local, incoming)) return
  if (incoming === undefined || local === undefined)
    throw new Refusal('foreign-structure', `node ${short(node)} seq ${seq}: struct differs in kind from the local one`)
  let entry: Entry
  try {
    entry = decodeEntry(incoming)
  } catch (err) {
    throw new Refusal('bad-entry', `node ${short(node)} seq ${seq}: ${(err as Error).message}`)
  }
  if (entry.node !== node || entry.seq !== seq || !signatureValid(plan.publicKey as Uint8Array, incoming)) {
    throw new Refusal(
      'bad-signature',
      `node ${short(node)} seq ${seq}: a different entry than the local one, not validly signed by the node`,
    )
  }
  throw new Refusal('fork', `node ${short(node)} signed two different entries for seq ${seq}`, {
    node,
    seq,
    entries: [decodeEntry(local), entry],
  })
}

function isArrayType(item: Y.Item): boolean {
  return item.content instanceof Y.ContentType && item.content.type instanceof Y.Array
}

function isId(value: unknown, client: number, clock: number): boolean {
  return value instanceof Y.ID && value.client === client && value.clock === clock
}

function short(node: NodeId): string {
  return node.slice(0, 12)
}

/**
 * After Y.applyUpdate of an accepted update: did Yjs apply exactly what the
 * guard checked? Every client the update named must stand at the clock the
 * guard's plan ends at, and nothing may be left pending: Yjs integrates
 * pending structs later, when what they wait for arrives, without asking
 * the guard. A difference means the guard and Yjs read the same bytes
 * differently (a bug; update-scan.ts closes the ones known), so the pending
 * parts are dropped and a warning names what differed.
 */
export function appliedAsChecked(doc: Y.Doc, ends: ReadonlyMap<number, number>): boolean {
  const store = doc.store
  const off = [...ends].filter(([client, end]) => Y.getState(store, client) !== end)
  if (off.length === 0 && store.pendingStructs === null && store.pendingDs === null) return true
  const what = [
    ...off.map(([client, end]) => `client ${client} at clock ${Y.getState(store, client)} instead of ${end}`),
    ...(store.pendingStructs === null ? [] : ['structs left pending']),
    ...(store.pendingDs === null ? [] : ['deletions left pending']),
  ]
  store.pendingStructs = null
  store.pendingDs = null
  const message = `an accepted update was applied otherwise than the guard checked it: ${what.join(', ')}; the unchecked part was dropped`
  process.emitWarning(message, 'YlogGuardWarning')
  return false
}
