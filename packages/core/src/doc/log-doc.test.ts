import * as Y from 'yjs'
import { describe, expect, it } from 'vitest'
import { toHex, ZERO_HASH } from '../entry/bytes.js'
import { decodeCursor, encodeCursor, START } from '../entry/cursor.js'
import { NodeIdentity } from '../entry/identity.js'
import { SEGMENT_SIZE } from './layout.js'
import { LogDoc, ORIGIN_LOCAL } from './log-doc.js'
import { memberList } from './membership.js'
import { appendEvents, writer } from '../testing/test-support.js'

describe('LogDoc.append', () => {
  it('assigns contiguous seqs chained by hash, across segment boundaries', () => {
    const { log, id } = writer()
    appendEvents(log, SEGMENT_SIZE * 2 + 3)
    const entries = log.range(id.id)
    expect(entries.map((e) => e.seq)).toEqual([...Array(SEGMENT_SIZE * 2 + 3).keys()])
    expect(entries[0]?.prev).toBe(toHex(ZERO_HASH))
    for (let i = 1; i < entries.length; i++) expect(entries[i]?.prev).toBe(entries[i - 1]?.hash)
    expect(log.verifyChains()).toEqual({ ok: true, entries: SEGMENT_SIZE * 2 + 3 })
    expect(log.heads().get(id.id)).toMatchObject({ length: SEGMENT_SIZE * 2 + 3, hash: entries.at(-1)?.hash })
  })

  it('never shares or skips a seq under many concurrent async callers', async () => {
    const { log, id } = writer()
    const seqs = await Promise.all(
      Array.from({ length: 500 }, async (_, i) => {
        await new Promise((r) => setTimeout(r, i % 7))
        await Promise.resolve()
        return log.append({ topic: 't', kind: 'event', data: i }).seq
      }),
    )
    expect([...seqs].sort((a, b) => a - b)).toEqual([...Array(500).keys()])
    expect(log.length(id.id)).toBe(500)
  })

  it('keeps time monotonic per node even when the clock steps back', () => {
    let now = 10_000
    const id = NodeIdentity.generate()
    const log = new LogDoc({ identity: id, now: () => now })
    log.append({ topic: 't', kind: 'event', data: 1 })
    now = 5_000
    const second = log.append({ topic: 't', kind: 'event', data: 2 })
    expect(second.at).toBe(10_000)
  })

  it('assigns no seq when the input is refused', () => {
    const { log, id } = writer()
    expect(() => log.append({ topic: 'bad topic', kind: 'event', data: 1 })).toThrow(/topic/)
    expect(() => log.append({ topic: 't', kind: 'event', data: 'x'.repeat(70_000) })).toThrow(/limit/)
    expect(log.append({ topic: 't', kind: 'event', data: 1 }).seq).toBe(0)
    expect(log.length(id.id)).toBe(1)
  })

  it('emits one update per append, tagged local', () => {
    const { log } = writer()
    const origins: unknown[] = []
    log.onUpdate((_, origin) => origins.push(origin))
    appendEvents(log, 3)
    expect(origins).toEqual([ORIGIN_LOCAL, ORIGIN_LOCAL, ORIGIN_LOCAL])
  })

  it('refuses to append without an identity, or as a non-member', () => {
    expect(() => new LogDoc().append({ topic: 't', kind: 'event', data: 1 })).toThrow(/no identity/)
    expect(() => new LogDoc({ identity: NodeIdentity.generate(), membership: memberList([]) })).toThrow(/not in the membership list/)
  })
})

describe('LogDoc reads', () => {
  function cluster() {
    const a = writer({ now: () => 1000 })
    const b = writer({ now: () => 2000 })
    a.log.onUpdate((u) => b.log.applyRemote(u))
    b.log.onUpdate((u, origin) => origin === ORIGIN_LOCAL && a.log.applyRemote(u))
    return { a, b }
  }

  it('gets single entries and answers undefined outside the log', () => {
    const { a } = cluster()
    appendEvents(a.log, 3)
    expect(a.log.get(a.id.id, 2)?.data).toEqual({ i: 2 })
    expect(a.log.get(a.id.id, 3)).toBeUndefined()
    expect(a.log.get(a.id.id, -1)).toBeUndefined()
    expect(a.log.get('00'.repeat(32), 0)).toBeUndefined()
  })

  it('pages through every node with a cursor and resumes exactly after new appends', () => {
    const { a, b } = cluster()
    appendEvents(a.log, 5)
    appendEvents(b.log, 4)
    const seen: string[] = []
    let cursor = START
    for (;;) {
      const page = a.log.entriesAfter(decodeCursor(encodeCursor(cursor)), 3)
      seen.push(...page.entries.map((e) => `${e.node}:${e.seq}`))
      cursor = page.next
      if (page.entries.length === 0) break
    }
    expect(seen).toHaveLength(9)
    appendEvents(a.log, 2)
    appendEvents(b.log, 1)
    const rest = a.log.entriesAfter(cursor, 100)
    expect(rest.entries.map((e) => `${e.node}:${e.seq}`).sort()).toEqual([`${a.id.id}:5`, `${a.id.id}:6`, `${b.id.id}:4`].sort())
    expect(new Set([...seen, ...rest.entries.map((e) => `${e.node}:${e.seq}`)]).size).toBe(12)
  })

  it('orders all entries by (node, seq) and merges by (at, node, seq)', () => {
    const { a, b } = cluster()
    appendEvents(b.log, 2)
    appendEvents(a.log, 2)
    const all = [...a.log.entries()].map((e) => [e.node, e.seq])
    const [first, second] = [a.id.id, b.id.id].sort()
    expect(all).toEqual([
      [first, 0],
      [first, 1],
      [second, 0],
      [second, 1],
    ])
    const merged = [...a.log.merged()].map((e) => e.at)
    expect(merged).toEqual([1000, 1000, 2000, 2000])
    expect([...a.log.merged(1500)].map((e) => e.node)).toEqual([b.id.id, b.id.id])
  })

  it('loads a snapshot into a fresh doc with identical reads and heads', () => {
    const { a, b } = cluster()
    appendEvents(a.log, SEGMENT_SIZE + 5)
    appendEvents(b.log, 7)
    const copy = new LogDoc()
    copy.loadTrusted(a.log.encodeSnapshot(), 'v2')
    expect(copy.verifyChains()).toEqual({ ok: true, entries: SEGMENT_SIZE + 12 })
    expect([...copy.heads()]).toEqual([...a.log.heads()])
    expect([...copy.entries()]).toEqual([...a.log.entries()])
  })

  it('verifies only the tail after given positions, linked to the entry before it', () => {
    const { log, id } = writer()
    appendEvents(log, 10)
    expect(log.verifyChains(new Map([[id.id, 7]]))).toEqual({ ok: true, entries: 3 })
    expect(log.verifyChains(new Map([[id.id, 10]]))).toEqual({ ok: true, entries: 0 })
  })

  it('continues its own chain after loading its own snapshot', () => {
    const { log, id } = writer()
    appendEvents(log, SEGMENT_SIZE + 1)
    const restarted = new LogDoc({ identity: id })
    restarted.loadTrusted(Y.encodeStateAsUpdate(log.doc))
    expect(restarted.doc.clientID).toBe(id.clientId)
    appendEvents(restarted, SEGMENT_SIZE)
    expect(restarted.length(id.id)).toBe(2 * SEGMENT_SIZE + 1)
    expect(restarted.verifyChains().ok).toBe(true)
    // The original accepts what the restarted node wrote after it.
    expect(log.applyRemote(Y.encodeStateAsUpdate(restarted.doc, Y.encodeStateVector(log.doc)))).toMatchObject({
      status: 'accepted',
      added: SEGMENT_SIZE,
    })
  })
})

describe('LogDoc remote updates', () => {
  it('holds updates that arrive before their predecessors, reports the hole, then applies them', () => {
    const a = writer()
    appendEvents(a.log, 10)
    const replica = new LogDoc()
    for (const u of a.updates.slice(0, 4)) expect(replica.applyRemote(u).status).toBe('accepted')
    for (const u of a.updates.slice(6)) expect(replica.applyRemote(u).status).toBe('held')
    expect(replica.length(a.id.id)).toBe(4)
    expect(replica.holes().get(a.id.id)).toEqual([{ from: 4, to: 9 }])
    expect(replica.applyRemote(a.updates[5] as Uint8Array).status).toBe('held')
    expect(replica.applyRemote(a.updates[4] as Uint8Array)).toEqual({ status: 'accepted', added: 1, released: 5 })
    expect(replica.length(a.id.id)).toBe(10)
    expect(replica.holes().size).toBe(0)
    expect(replica.verifyChains().ok).toBe(true)
  })

  it('accepts duplicates without change', () => {
    const a = writer()
    appendEvents(a.log, 3)
    const replica = new LogDoc()
    for (const u of [...a.updates, ...a.updates]) expect(replica.applyRemote(u).status).toBe('accepted')
    expect(replica.length(a.id.id)).toBe(3)
  })

  it('reports holes learned from peers', () => {
    const replica = new LogDoc()
    const node = NodeIdentity.generate().id
    replica.noteKnown(node, 41)
    expect(replica.holes().get(node)).toEqual([{ from: 0, to: 41 }])
  })
})
