import * as Y from 'yjs'
import { describe, expect, it } from 'vitest'
import { encodeDiffChunks } from './diff-chunks.js'
import { LogDoc } from './log-doc.js'
import { appendEvents, writer } from '../testing/test-support.js'

describe('encodeDiffChunks', () => {
  it('cuts a large diff into bounded updates that rebuild the same log, in order, through the guard', () => {
    const a = writer()
    const b = writer()
    appendEvents(a.log, 1500)
    appendEvents(b.log, 700)
    for (const u of b.updates) a.log.applyRemote(u)
    const chunks = encodeDiffChunks(a.log.doc, undefined, 32 * 1024)
    expect(chunks.length).toBeGreaterThan(10)
    for (const chunk of chunks) expect(chunk.byteLength).toBeLessThan(40 * 1024)
    const replica = new LogDoc()
    for (const chunk of chunks) expect(replica.applyRemote(chunk).status).toBe('accepted')
    expect([...replica.heads()]).toEqual([...a.log.heads()])
    expect(replica.verifyChains()).toEqual({ ok: true, entries: 2200 })
  })

  it('sends only what the peer lacks', () => {
    const a = writer()
    appendEvents(a.log, 600)
    const peer = new LogDoc()
    for (const u of a.updates.slice(0, 400)) peer.applyRemote(u)
    const chunks = encodeDiffChunks(a.log.doc, Y.encodeStateVector(peer.doc), 1 << 20)
    expect(chunks).toHaveLength(1)
    expect(peer.applyRemote(chunks[0] as Uint8Array)).toMatchObject({ status: 'accepted', added: 200 })
    const none = encodeDiffChunks(a.log.doc, Y.encodeStateVector(peer.doc), 1 << 20)
    expect(none).toHaveLength(1)
    expect(Y.decodeUpdate(none[0] as Uint8Array).structs).toHaveLength(0)
  })
})
