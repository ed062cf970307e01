import * as Y from 'yjs'
import { describe, expect, it } from 'vitest'
import { encodeEntriesUpdate } from './entries-update.js'
import { SEGMENT_SIZE } from './layout.js'
import { LogDoc } from './log-doc.js'
import { memberList } from './membership.js'
import { appendEvents, fingerprint, writer } from '../testing/test-support.js'

function bytesOf(log: LogDoc, node: string, from: number, to: number): Uint8Array[] {
  return Array.from({ length: to - from }, (_, i) => log.getBytes(node, from + i) as Uint8Array)
}

describe('encodeEntriesUpdate', () => {
  it("writes exactly the structs the node's own writer wrote, across segments", () => {
    const { log, id } = writer()
    appendEvents(log, SEGMENT_SIZE * 2 + 3)
    const update = encodeEntriesUpdate(id.id, 0, bytesOf(log, id.id, 0, log.length(id.id)))
    expect(Buffer.from(update).equals(Buffer.from(Y.encodeStateAsUpdate(log.doc)))).toBe(true)
  })

  it('appends from any seq (mid-segment, at a segment start) on top of what the receiver holds; a resend changes nothing', () => {
    const { log, id } = writer()
    const n = SEGMENT_SIZE * 2 + 10
    appendEvents(log, n)
    const replica = new LogDoc()
    for (const [from, to] of [
      [0, 100],
      [100, SEGMENT_SIZE],
      [SEGMENT_SIZE, SEGMENT_SIZE + 1],
      [SEGMENT_SIZE + 1, n],
    ] as const) {
      expect(replica.applyRemote(encodeEntriesUpdate(id.id, from, bytesOf(log, id.id, from, to))).status).toBe('accepted')
      expect(replica.length(id.id)).toBe(to)
    }
    const before = fingerprint(replica)
    expect(replica.applyRemote(encodeEntriesUpdate(id.id, 0, bytesOf(log, id.id, 0, n))).status).toBe('accepted')
    expect(replica.applyRemote(encodeEntriesUpdate(id.id, 200, bytesOf(log, id.id, 200, 300))).status).toBe('accepted')
    expect(fingerprint(replica)).toBe(before)
    expect(fingerprint(replica)).toBe(fingerprint(log))
  })

  it('goes through the guard: a gap is held, forged bytes and non-members are refused', () => {
    const { log, id } = writer()
    appendEvents(log, 20)
    const held = new LogDoc()
    expect(held.applyRemote(encodeEntriesUpdate(id.id, 10, bytesOf(log, id.id, 10, 20))).status).toBe('held')
    const forged = bytesOf(log, id.id, 0, 5)
    forged[3] = Uint8Array.from(forged[3] as Uint8Array, (b, i) => (i === 120 ? b ^ 1 : b))
    expect(new LogDoc().applyRemote(encodeEntriesUpdate(id.id, 0, forged))).toMatchObject({ status: 'refused' })
    const other = writer()
    const closed = new LogDoc({ identity: other.id, membership: memberList([other.id.id]) })
    const update = encodeEntriesUpdate(id.id, 0, bytesOf(log, id.id, 0, 20))
    expect(closed.applyRemote(update)).toMatchObject({ status: 'refused', reason: 'not-member' })
  })

  it('refuses what is not a node id or a seq, and encodes no entries as an empty update', () => {
    expect(() => encodeEntriesUpdate('nope', 0, [])).toThrow(/not a node id/)
    const { id } = writer()
    expect(() => encodeEntriesUpdate(id.id, -1, [])).toThrow(/fromSeq/)
    expect(new LogDoc().applyRemote(encodeEntriesUpdate(id.id, 0, [])).status).toBe('accepted')
  })
})
