import { describe, expect, it } from 'vitest'
import { LogDoc, NodeIdentity } from '@ylog/core'
import * as Y from 'yjs'
import { KnownClocks } from './known-clocks.js'

function writerLog(): { log: LogDoc; updates: Uint8Array[]; id: NodeIdentity } {
  const id = NodeIdentity.generate()
  const log = new LogDoc({ identity: id })
  const updates: Uint8Array[] = []
  log.onUpdate((u) => updates.push(u))
  return { log, updates, id }
}

const append = (log: LogDoc, n: number): void => {
  for (let i = 0; i < n; i++) log.append({ topic: 't', kind: 'event', data: i })
}

describe('KnownClocks (peer lag)', () => {
  it('counts what a step 1 listed and what later updates add, until they are applied here', () => {
    const peer = writerLog()
    append(peer.log, 600) // past one segment, so clocks and entries differ
    const local = new LogDoc()
    local.applyRemote(Y.encodeStateAsUpdate(peer.log.doc))
    const known = new KnownClocks()
    known.noteStateVector(Y.decodeStateVector(Y.encodeStateVector(peer.log.doc)))
    expect(known.lag((c) => local.clockOf(c))).toBe(0)

    // The peer appends after its step 1; the state vector alone would still say 0.
    const before = peer.updates.length
    append(peer.log, 5)
    const later = peer.updates.slice(before)
    for (const u of later) known.noteUpdate(u)
    expect(known.lag((c) => local.clockOf(c))).toBe(5)
    for (const u of later.slice(0, 2)) local.applyRemote(u)
    expect(known.lag((c) => local.clockOf(c))).toBe(3)
    for (const u of later.slice(2)) local.applyRemote(u)
    expect(known.lag((c) => local.clockOf(c))).toBe(0)
  })

  it('reads updates of several writers, and leaves ignored writers out', () => {
    const a = writerLog()
    const b = writerLog()
    append(a.log, 7)
    append(b.log, 4)
    const both = Y.mergeUpdates([Y.encodeStateAsUpdate(a.log.doc), Y.encodeStateAsUpdate(b.log.doc)])
    const known = new KnownClocks()
    known.noteUpdate(both)
    const empty = new LogDoc()
    expect(known.lag((c) => empty.clockOf(c))).toBe(11)
    known.ignore(b.id.clientId)
    expect(known.lag((c) => empty.clockOf(c))).toBe(7)
    known.noteUpdate(Uint8Array.from([0xff, 0xff])) // garbage changes nothing
    expect(known.lag((c) => empty.clockOf(c))).toBe(7)
  })

  it('a new step 1 replaces what was known (a peer restored from an older backup holds less)', () => {
    const a = writerLog()
    append(a.log, 10)
    const known = new KnownClocks()
    known.noteUpdate(Y.encodeStateAsUpdate(a.log.doc))
    expect(known.lag(() => 0)).toBe(10)
    known.noteStateVector(new Map())
    expect(known.lag(() => 0)).toBe(0)
  })
})
