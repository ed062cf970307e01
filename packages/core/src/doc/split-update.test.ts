import * as Y from 'yjs'
import { describe, expect, it } from 'vitest'
import { YlogError } from '../errors.js'
import { LogDoc } from './log-doc.js'
import { memberList } from './membership.js'
import { ROOT_MAP } from './layout.js'
import { splitUpdateByClient } from './split-update.js'
import { appendEvents, writer } from '../testing/test-support.js'

/** One doc holding the entries of three writers, as a relaying peer would. */
function threeWriters(counts: [number, number, number]): { relay: LogDoc; writers: Array<ReturnType<typeof writer>> } {
  const writers = counts.map((n) => {
    const w = writer()
    appendEvents(w.log, n)
    return w
  })
  const relay = new LogDoc()
  for (const w of writers) expect(relay.applyRemote(Y.encodeStateAsUpdate(w.log.doc)).status).toBe('accepted')
  return { relay, writers }
}

describe('splitUpdateByClient', () => {
  it('cuts an update into one standalone piece per writer that together rebuild the same doc', () => {
    const { relay, writers } = threeWriters([600, 3, 40])
    const pieces = splitUpdateByClient(Y.encodeStateAsUpdate(relay.doc))
    expect([...pieces.keys()].sort()).toEqual(writers.map((w) => w.id.clientId).sort())

    // Each piece alone is accepted and adds exactly its writer's entries.
    for (const w of writers) {
      const alone = new LogDoc()
      expect(alone.applyRemote(pieces.get(w.id.clientId) as Uint8Array)).toMatchObject({ status: 'accepted', added: w.log.length(w.id.id) })
      expect(alone.nodes()).toEqual([w.id.id])
    }
    const rebuilt = new Y.Doc()
    for (const piece of pieces.values()) Y.applyUpdate(rebuilt, piece)
    expect(Y.encodeStateAsUpdate(rebuilt)).toEqual(Y.encodeStateAsUpdate(relay.doc))
  })

  it('keeps the clocks of a diff that starts mid-run', () => {
    const { relay, writers } = threeWriters([700, 10, 0])
    const peer = new LogDoc()
    for (const w of writers) peer.applyRemote(Y.encodeStateAsUpdate(w.log.doc))
    const [a, b] = writers as [ReturnType<typeof writer>, ReturnType<typeof writer>]
    // The peer has a prefix of both; the relay has 5 more of each.
    appendEvents(a.log, 5)
    appendEvents(b.log, 5)
    relay.applyRemote(Y.encodeStateAsUpdate(a.log.doc, Y.encodeStateVector(relay.doc)))
    relay.applyRemote(Y.encodeStateAsUpdate(b.log.doc, Y.encodeStateVector(relay.doc)))
    const pieces = splitUpdateByClient(Y.encodeStateAsUpdate(relay.doc, Y.encodeStateVector(peer.doc)))
    expect(pieces.size).toBe(2)
    expect(peer.applyRemote(pieces.get(b.id.clientId) as Uint8Array)).toMatchObject({ status: 'accepted', added: 5 })
    expect(peer.applyRemote(pieces.get(a.id.clientId) as Uint8Array)).toMatchObject({ status: 'accepted', added: 5 })
    expect([...peer.heads()]).toEqual([...relay.heads()])
  })

  it('lets a node take the writers it accepts and refuse the one it does not', () => {
    const { relay, writers } = threeWriters([20, 20, 20])
    const [a, b, c] = writers as [ReturnType<typeof writer>, ReturnType<typeof writer>, ReturnType<typeof writer>]
    const strict = new LogDoc({ membership: memberList([a.id.id, b.id.id]) })
    const whole = Y.encodeStateAsUpdate(relay.doc)
    expect(strict.applyRemote(whole)).toMatchObject({ status: 'refused', reason: 'not-member' })
    const results = [...splitUpdateByClient(whole)].map(([client, piece]) => [client, strict.applyRemote(piece).status])
    expect(results.sort()).toEqual(
      [
        [a.id.clientId, 'accepted'],
        [b.id.clientId, 'accepted'],
        [c.id.clientId, 'refused'],
      ].sort(),
    )
    expect(strict.nodes().sort()).toEqual([a.id.id, b.id.id].sort())
  })

  it('keeps gaps as skips, so a piece with a hole is held, not misread', () => {
    const a = writer()
    appendEvents(a.log, 10)
    const early = a.updates.slice(0, 3)
    const late = a.updates.slice(6)
    const holey = Y.mergeUpdates([...early, ...late])
    expect(Y.decodeUpdate(holey).structs.some((s) => s instanceof Y.Skip)).toBe(true)
    const piece = splitUpdateByClient(holey).get(a.id.clientId) as Uint8Array
    expect(Y.decodeUpdate(piece).structs.map((s) => [s.constructor.name, s.id.clock, s.length])).toEqual(
      Y.decodeUpdate(holey).structs.map((s) => [s.constructor.name, s.id.clock, s.length]),
    )
    const peer = new LogDoc()
    for (const u of early) peer.applyRemote(u)
    expect(peer.applyRemote(piece).status).toBe('held')
    for (const u of a.updates.slice(3, 6)) peer.applyRemote(u)
    expect(peer.length(a.id.id)).toBe(10)
  })

  it('gives every piece the whole delete set, so no piece of a deleting update is accepted', () => {
    const { relay, writers } = threeWriters([5, 5, 5])
    const evil = new Y.Doc()
    Y.applyUpdate(evil, Y.encodeStateAsUpdate(relay.doc))
    const sv = Y.encodeStateVector(evil)
    const victim = writers[0] as ReturnType<typeof writer>
    ;(evil.getMap(ROOT_MAP).get(victim.id.id) as Y.Array<Y.Array<Uint8Array>>).get(0).delete(0, 2)
    // New structs of another writer next to the delete: they must not ride through on their own.
    const deleting = Y.mergeUpdates([Y.encodeStateAsUpdate(evil, sv), Y.encodeStateAsUpdate(relay.doc)])
    const pieces = splitUpdateByClient(deleting)
    expect(pieces.size).toBe(3)
    for (const piece of pieces.values()) {
      expect(Y.decodeUpdate(piece).ds.clients.size).toBe(1)
      expect(new LogDoc().applyRemote(piece)).toMatchObject({ status: 'refused', reason: 'delete' })
    }
    // A delete alone (no structs) still comes back as a piece.
    const onlyDelete = splitUpdateByClient(Y.encodeStateAsUpdate(evil, sv))
    expect([...onlyDelete.keys()]).toEqual([victim.id.clientId])
    expect(new LogDoc().applyRemote(onlyDelete.get(victim.id.clientId) as Uint8Array)).toMatchObject({
      status: 'refused',
      reason: 'delete',
    })
  })

  it('throws on an update that does not decode', () => {
    expect(() => splitUpdateByClient(Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2, 3]))).toThrow(YlogError)
  })
})
