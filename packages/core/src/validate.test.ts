import { randomBytes } from 'node:crypto'
import * as Y from 'yjs'
import { describe, expect, it } from 'vitest'
import { sha256 } from './bytes.js'
import { signEntry } from './entry.js'
import { NodeIdentity } from './identity.js'
import { ROOT_MAP } from './layout.js'
import { LogDoc } from './log-doc.js'
import { memberList } from './membership.js'
import { appendEvents, craftAppend, fingerprint, writer } from './test-support.js'

/** A replica holding a's 5 entries, and a's next honest fields. */
function setup(membership?: string[]) {
  const a = writer()
  appendEvents(a.log, 5)
  const replica = new LogDoc(membership ? { membership: memberList(membership) } : {})
  for (const u of a.updates) replica.applyRemote(u)
  const head = a.log.heads().get(a.id.id)
  const next = { seq: 5, prev: new Uint8Array(Buffer.from(head?.hash as string, 'hex')), at: head?.at as number, topic: 't', body: { kind: 'event' as const, data: 'x' } }
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
    expectRefused(replica, craftAppend(replica, a.id.id, a.id.clientId, signEntry(a.id, { ...next, prev: sha256(randomBytes(8)) }).bytes), 'bad-prev')
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
      (d: Y.Doc) => ((d.getMap(ROOT_MAP).get(a.id.id) as Y.Array<Y.Array<Uint8Array>>).get(0) as Y.Array<unknown>).insert(0, [new Uint8Array(3)]),
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
    const fork = signEntry(a.id, { seq: 4, prev: new Uint8Array(Buffer.from(real?.prev as string, 'hex')), at: real?.at as number, topic: 't', body: { kind: 'event', data: 'other' } })
    // The fork branch: the same structs for seqs 0..3, then its own seq 4.
    const branch = new LogDoc()
    for (let seq = 0; seq < 4; seq++) branch.applyRemote(craftAppend(branch, a.id.id, a.id.clientId, replica.getBytes(a.id.id, seq) as Uint8Array))
    const update = craftAppend(branch, a.id.id, a.id.clientId, fork.bytes)

    expect(replica.applyRemote(update)).toMatchObject({ status: 'refused', reason: 'fork' })
    expect(replica.forks()).toHaveLength(1)
    expect(replica.forks()[0]?.entries.map((e) => e.hash)).toEqual([real?.hash, Buffer.from(fork.hash).toString('hex')])
    expect(replica.forks()[0]?.entries.map((e) => e.sig)).toEqual([real?.sig, Buffer.from(fork.bytes.subarray(-64)).toString('hex')])
    expect(replica.heads().get(a.id.id)?.forked).toBe(true)
    expect(replica.get(a.id.id, 4)?.hash).toBe(real?.hash)
  })
})
