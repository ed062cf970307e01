import { randomBytes } from 'node:crypto'
import * as Y from 'yjs'
import { describe, expect, it } from 'vitest'
import { sha256 } from '../entry/bytes.js'
import { signEntry } from '../entry/entry.js'
import { NodeIdentity } from '../entry/identity.js'
import { entryClock, ROOT_MAP } from './layout.js'
import { LogDoc } from './log-doc.js'
import { memberList } from './membership.js'
import { encodeStructGroups } from './split-update.js'
import { appendEvents, craftAppend, fingerprint, writer } from '../testing/test-support.js'
import { missingDependencies } from './reads.js'

/** A replica holding a's 5 entries, and a's next honest fields. */
function setup(membership?: string[]) {
  const a = writer()
  appendEvents(a.log, 5)
  const replica = new LogDoc(membership ? { membership: memberList(membership) } : {})
  for (const u of a.updates) replica.applyRemote(u)
  const head = a.log.heads().get(a.id.id)
  const next = {
    seq: 5,
    prev: new Uint8Array(Buffer.from(head?.hash as string, 'hex')),
    at: head?.at as number,
    topic: 't',
    body: { kind: 'event' as const, data: 'x' },
  }
  return { a, replica, next }
}

function expectRefused(replica: LogDoc, update: Uint8Array, reason: string): void {
  const before = fingerprint(replica)
  const result = replica.applyRemote(update)
  expect(result).toMatchObject({ status: 'refused', reason })
  expect(fingerprint(replica)).toBe(before)
}

describe('checkUpdate refuses', () => {
  it('an update that deletes entries', () => {
    const { a, replica } = setup()
    const evil = new Y.Doc()
    Y.applyUpdate(evil, Y.encodeStateAsUpdate(replica.doc))
    const sv = Y.encodeStateVector(evil)
    const segment = (evil.getMap(ROOT_MAP).get(a.id.id) as Y.Array<Y.Array<Uint8Array>>).get(0)
    segment.delete(0, 2)
    expectRefused(replica, Y.encodeStateAsUpdate(evil, sv), 'delete')
  })

  it('an update that overwrites a node key in the root map', () => {
    const { a, replica } = setup()
    const evil = new Y.Doc()
    Y.applyUpdate(evil, Y.encodeStateAsUpdate(replica.doc))
    evil.clientID = a.id.clientId
    const sv = Y.encodeStateVector(evil)
    evil.getMap(ROOT_MAP).set(a.id.id, new Y.Array())
    expectRefused(replica, Y.encodeStateAsUpdate(evil, sv), 'delete')
  })

  it('an entry with a forged signature', () => {
    const { a, replica, next } = setup()
    const { bytes } = signEntry(a.id, next)
    bytes[bytes.byteLength - 3] = (bytes[bytes.byteLength - 3] as number) ^ 1
    expectRefused(replica, craftAppend(replica, a.id.id, a.id.clientId, bytes), 'bad-signature')
  })

  it('a correct signature from a key that is not a member', () => {
    const a = writer()
    const stranger = writer()
    appendEvents(stranger.log, 1)
    const replica = new LogDoc({ membership: memberList([a.id.id]) })
    expectRefused(replica, stranger.updates[0] as Uint8Array, 'not-member')
  })

  it('a seq that skips or repeats', () => {
    const { a, replica, next } = setup()
    expectRefused(replica, craftAppend(replica, a.id.id, a.id.clientId, signEntry(a.id, { ...next, seq: 6 }).bytes), 'bad-seq')
    expectRefused(replica, craftAppend(replica, a.id.id, a.id.clientId, signEntry(a.id, { ...next, seq: 4 }).bytes), 'bad-seq')
  })

  it("an entry placed in another node's part", () => {
    const { a, replica, next } = setup()
    const b = NodeIdentity.generate()
    // b's validly signed entry, written under a's client into a's part.
    expectRefused(replica, craftAppend(replica, a.id.id, a.id.clientId, signEntry(b, { ...next, seq: 5 }).bytes), 'wrong-node')
    // a's own next entry, written into a's part by b's client.
    expectRefused(replica, craftAppend(replica, a.id.id, b.clientId, signEntry(a.id, next).bytes), 'unknown-writer')
  })

  it('a prev that breaks the chain', () => {
    const { a, replica, next } = setup()
    expectRefused(
      replica,
      craftAppend(replica, a.id.id, a.id.clientId, signEntry(a.id, { ...next, prev: sha256(randomBytes(8)) }).bytes),
      'bad-prev',
    )
  })

  it('random bytes', () => {
    const { replica } = setup()
    for (let i = 0; i < 200; i++) {
      const before = fingerprint(replica)
      const result = replica.applyRemote(randomBytes(1 + (i % 97)))
      expect(result.status).not.toBe('accepted')
      expect(fingerprint(replica)).toBe(before)
    }
  })

  it('inserts outside the entry structures', () => {
    const { a, replica } = setup()
    for (const write of [
      (d: Y.Doc) => d.getText('notes').insert(0, 'hi'),
      (d: Y.Doc) => d.getMap(ROOT_MAP).set('x', 1),
      (d: Y.Doc) => ((d.getMap(ROOT_MAP).get(a.id.id) as Y.Array<Y.Array<Uint8Array>>).get(0) as Y.Array<unknown>).push(['json']),
      (d: Y.Doc) =>
        ((d.getMap(ROOT_MAP).get(a.id.id) as Y.Array<Y.Array<Uint8Array>>).get(0) as Y.Array<unknown>).insert(0, [new Uint8Array(3)]),
    ]) {
      const evil = new Y.Doc()
      Y.applyUpdate(evil, Y.encodeStateAsUpdate(replica.doc))
      evil.clientID = a.id.clientId
      const sv = Y.encodeStateVector(evil)
      write(evil)
      const before = fingerprint(replica)
      const result = replica.applyRemote(Y.encodeStateAsUpdate(evil, sv))
      expect(result.status).toBe('refused')
      expect(['foreign-structure', 'bad-entry']).toContain((result as { reason: string }).reason)
      expect(fingerprint(replica)).toBe(before)
    }
  })
})

describe('fork evidence', () => {
  it('keeps both signed entries for one (node, seq) and reports the node as forked', () => {
    const { a, replica } = setup()
    const real = replica.get(a.id.id, 4)
    // a signs a second, different seq 4 on the same prev: a fork.
    const fork = signEntry(a.id, {
      seq: 4,
      prev: new Uint8Array(Buffer.from(real?.prev as string, 'hex')),
      at: real?.at as number,
      topic: 't',
      body: { kind: 'event', data: 'other' },
    })
    // The fork branch: the same structs for seqs 0..3, then its own seq 4.
    const branch = new LogDoc()
    for (let seq = 0; seq < 4; seq++)
      branch.applyRemote(craftAppend(branch, a.id.id, a.id.clientId, replica.getBytes(a.id.id, seq) as Uint8Array))
    const update = craftAppend(branch, a.id.id, a.id.clientId, fork.bytes)

    expect(replica.applyRemote(update)).toMatchObject({ status: 'refused', reason: 'fork' })
    expect(replica.forks()).toHaveLength(1)
    expect(replica.forks()[0]?.entries.map((e) => e.hash)).toEqual([real?.hash, Buffer.from(fork.hash).toString('hex')])
    expect(replica.forks()[0]?.entries.map((e) => e.sig)).toEqual([real?.sig, Buffer.from(fork.bytes.subarray(-64)).toString('hex')])
    expect(replica.heads().get(a.id.id)?.forked).toBe(true)
    expect(replica.get(a.id.id, 4)?.hash).toBe(real?.hash)
  })
})

/** An entry struct at `seq` of `client`'s part, appended after the struct before it (held when that one is missing). */
function entryStruct(client: number, seq: number, bytes: Uint8Array): Y.Item {
  const clock = entryClock(seq)
  return new Y.Item(Y.createID(client, clock), null, Y.createID(client, clock - 1), null, null, null, null, new Y.ContentBinary(bytes))
}

/** The structs of a whole honest log, as Y.decodeUpdate returns them. */
function structsOf(log: LogDoc): Array<Y.Item | Y.GC | Y.Skip> {
  return Y.decodeUpdate(Y.encodeStateAsUpdate(log.doc)).structs
}

describe('checkUpdate reads an update as Yjs applies it', () => {
  it('refuses a client named twice (the split-group reproduction), and takes the honest encoding afterwards', () => {
    const m = writer()
    appendEvents(m.log, 6)
    const replica = new LogDoc()
    const s = structsOf(m.log)
    expectRefused(replica, encodeStructGroups([s.slice(0, 4), s.slice(4)]), 'malformed-update')
    expect(replica.applyRemote(Y.encodeStateAsUpdate(m.log.doc))).toMatchObject({ status: 'accepted', added: 6 })
    expect(replica.range(m.id.id).map((e) => e.hash)).toEqual(m.log.range(m.id.id).map((e) => e.hash))
    expect(missingDependencies(replica)).toBeUndefined()
  })

  it("refuses the relayed variant with a third member's valid chain between the two groups", () => {
    const c = writer()
    const b = writer()
    appendEvents(c.log, 6)
    appendEvents(b.log, 3)
    const replica = new LogDoc()
    const s = structsOf(c.log)
    expectRefused(replica, encodeStructGroups([s.slice(0, 4), structsOf(b.log), s.slice(4)]), 'malformed-update')
    expect(replica.holes().size).toBe(0)
    for (const w of [b, c]) expect(replica.applyRemote(Y.encodeStateAsUpdate(w.log.doc)).status).toBe('accepted')
    expect(replica.length(c.id.id)).toBe(6)
    expect(replica.length(b.id.id)).toBe(3)
  })

  it('refuses a later empty or overlapping group of the same client', () => {
    const m = writer()
    appendEvents(m.log, 4)
    const replica = new LogDoc()
    const s = structsOf(m.log)
    expectRefused(replica, encodeStructGroups([s, s.slice(2)]), 'malformed-update')
    // An empty group cannot be built from structs: write the header by hand (1 group... then a second, empty, of the same client).
    const update = encodeStructGroups([s])
    const bytes = Uint8Array.from([2, ...update.subarray(1, update.length - 1), 0, ...varUint(m.id.clientId), 0, 0])
    expectRefused(replica, bytes, 'malformed-update')
  })

  it('reads a v2 update as Yjs does (v1: nothing in it), and refuses a known struct naming another root type', () => {
    const { a, replica } = setup()
    appendEvents(a.log, 2)
    const before = fingerprint(replica)
    // Both readers take a v2 update's leading bytes for an empty v1 update; nothing is added either way.
    expect(replica.applyRemote(Y.encodeStateAsUpdateV2(a.log.doc))).toMatchObject({ status: 'accepted', added: 0 })
    expect(fingerprint(replica)).toBe(before)
    // a's own root struct (known here), its parent renamed: Y.applyUpdate would create the type "nodez" just by reading it.
    const root = Y.decodeUpdate(Y.encodeStateAsUpdate(a.log.doc)).structs[0] as Y.Item
    root.parent = 'nodez' as unknown as Y.AbstractType<unknown>
    expectRefused(replica, encodeStructGroups([[root]]), 'foreign-structure')
    expect([...replica.doc.share.keys()]).toEqual([ROOT_MAP])
  })
})

describe('held entries', () => {
  it("refuse an unsigned entry far ahead in a node's own part: no fake hole", () => {
    const { a, replica } = setup()
    const forged = signEntry(a.id, { seq: 999_999, prev: new Uint8Array(32), at: 1, topic: 't', body: { kind: 'event', data: 'x' } }).bytes
    forged[forged.byteLength - 1] = (forged[forged.byteLength - 1] as number) ^ 1
    expectRefused(replica, encodeStructGroups([[entryStruct(a.id.clientId, 999_999, forged)]]), 'bad-signature')
    expect(replica.holes().size).toBe(0)
  })

  it('announce a hole only up to a validly signed entry', () => {
    const { a, replica } = setup()
    const signed = signEntry(a.id, { seq: 40, prev: new Uint8Array(32), at: 1, topic: 't', body: { kind: 'event', data: 'x' } }).bytes
    expect(replica.applyRemote(encodeStructGroups([[entryStruct(a.id.clientId, 40, signed)]])).status).toBe('held')
    expect(replica.holes().get(a.id.id)).toEqual([{ from: 5, to: 40 }])
  })
})

describe('appliedAsChecked', () => {
  it('catches Yjs applying more than the guard checked: drops what is pending, heads stay on verified entries', async () => {
    const { a, replica } = setup()
    appendEvents(a.log, 5)
    const s = structsOf(a.log)
    const tail = s.filter((x) => x.id.clock >= entryClock(7))
    // Bypass the guard, as a Yjs reading the guard does not share would: seqs 7..9 wait for 5 and 6.
    Y.applyUpdate(replica.doc, encodeStructGroups([tail]))
    expect(missingDependencies(replica)).toBeDefined()
    const warnings: string[] = []
    const onWarning = (w: Error): void => void warnings.push(w.message)
    process.on('warning', onWarning)
    try {
      const fill = encodeStructGroups([s.filter((x) => x.id.clock >= entryClock(5) && x.id.clock < entryClock(7))])
      expect(replica.applyRemote(fill)).toMatchObject({ status: 'accepted', added: 2 })
      // process.emitWarning delivers on the next tick.
      await new Promise((resolve) => setImmediate(resolve))
    } finally {
      process.off('warning', onWarning)
    }
    expect(replica.guardMismatches).toBe(1)
    expect(warnings.join()).toContain('applied otherwise than the guard checked it')
    expect(missingDependencies(replica)).toBeUndefined()
    expect(replica.length(a.id.id)).toBe(7)
    expect(replica.range(a.id.id)).toHaveLength(7)
  })

  it('passes every honest apply', () => {
    const { a, replica } = setup()
    appendEvents(a.log, 600)
    expect(replica.applyRemote(Y.encodeStateAsUpdate(a.log.doc, Y.encodeStateVector(replica.doc))).status).toBe('accepted')
    expect(replica.guardMismatches).toBe(0)
  })
})

function varUint(n: number): number[] {
  const out: number[] = []
  while (n > 0x7f) {
    out.push((n % 128) | 0x80)
    n = Math.floor(n / 128)
  }
  out.push(n)
  return out
}
