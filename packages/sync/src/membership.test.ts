// Nodes whose member lists differ: relayed entries of a writer one side does not accept, readers, refusals and backoff.
import { afterEach, describe, expect, it } from 'vitest'
import { memberList, NodeIdentity, signEntry } from '@ylog/core'
import { logDocOf } from '@ylog/core/internal'
import * as Y from 'yjs'
import type { SyncLogger } from './channel.js'
import { CLOSE_REFUSED_UPDATE } from './close-codes.js'
import { connectPeer, type PeerHandle, type PeerOptions } from './peer.js'
import { encodeSyncUpdate } from './protocol.js'
import { authenticate, craftAppend, rawClient, trackedNodes, waitFor, type TestNode } from './test-support.js'

const { cleanup, node } = trackedNodes(afterEach)

interface Recorded {
  logger: SyncLogger
  warnings: Array<Record<string, unknown> & { msg: string }>
  infos: Array<Record<string, unknown> & { msg: string }>
}

function recorder(): Recorded {
  const warnings: Recorded['warnings'] = []
  const infos: Recorded['infos'] = []
  return {
    warnings,
    infos,
    logger: { warn: (obj, msg) => warnings.push({ ...obj, msg }), info: (obj, msg) => infos.push({ ...obj, msg }) },
  }
}

function dial(from: TestNode, to: { port: number }, extra: Partial<PeerOptions> = {}): PeerHandle {
  const peer = connectPeer({
    url: `ws://127.0.0.1:${to.port}/sync`,
    durable: from.durable,
    identity: from.identity,
    backoff: { baseMs: 20, capMs: 200 },
    ...extra,
  })
  cleanup.push(() => peer.close())
  return peer
}

/** A (open membership) already holds C's entries; B lists A and itself only. */
async function mismatch(): Promise<{ a: TestNode; b: TestNode; c: TestNode }> {
  const a = await node()
  const c = await node()
  const bId = NodeIdentity.generate()
  const b = await node({ identity: bId, membership: memberList([bId.id, a.identity.id]) })
  await a.append(30)
  await c.append(40)
  const ca = dial(c, a)
  await waitFor(() => a.durable.committedLength(c.identity.id) === 40 && ca.state === 'open', "C's entries at A")
  return { a, b, c }
}

const skippedWarnings = (r: Recorded) => r.warnings.filter((w) => w.msg === 'skipping the entries of a writer this node does not accept')

describe('a writer one side does not accept, relayed by the other', () => {
  it('B dialing A takes all of A, skips C, stays connected, and logs and counts C once', async () => {
    const { a, b, c } = await mismatch()
    const log = recorder()
    const refused: string[] = []
    const ab = dial(b, a, { logger: log.logger, onRefused: (r) => refused.push(r) })
    await waitFor(() => b.durable.committedLength(a.identity.id) === 30, "A's entries at B")
    // Entries of both keep coming from A (C's relayed): A's arrive, C's are skipped each time, without a redial.
    await a.append(10)
    await c.append(10)
    await waitFor(() => a.durable.committedLength(c.identity.id) === 50, "C's new entries at A")
    await b.append(2)
    await waitFor(() => b.durable.committedLength(a.identity.id) === 40 && a.durable.committedLength(b.identity.id) === 2, 'both ways')
    expect(b.durable.committedLength(c.identity.id)).toBe(0)
    expect(ab.state).toBe('open')
    expect(ab.attempts).toBe(0)
    expect(a.sync.connections().filter((x) => x.node === b.identity.id)).toHaveLength(1)
    expect(refused).toEqual(['not-member'])
    expect(skippedWarnings(log)).toEqual([expect.objectContaining({ reason: 'not-member', client: c.identity.clientId })])
    // C's entries are no lag for B: it will never take them.
    expect(ab.lag).toBe(0)
  })

  it('B serving A does the same on its side', async () => {
    const { a, b, c } = await mismatch()
    const ab = dial(a, b)
    await waitFor(() => b.durable.committedLength(a.identity.id) === 30, "A's entries at B")
    await c.append(5)
    await a.append(5)
    await waitFor(() => b.durable.committedLength(a.identity.id) === 35, "A's later entries at B")
    expect(b.durable.nodes()).toEqual([a.identity.id])
    expect(b.refused).toEqual(['not-member'])
    expect(ab.state).toBe('open')
    expect(b.sync.connections()).toHaveLength(1)
  })

  it('still closes when another writer in the same update is forged', async () => {
    const { a, b } = await mismatch()
    // A writer B does not list, whose update holds nothing of A's (C's doc holds A's entries by now).
    const stranger = await node()
    await stranger.append(3)
    const client = await rawClient(b.port)
    expect((await authenticate(client, a.identity)).ok).toBe(true)
    const forged = signEntry(a.identity, {
      seq: 0,
      prev: new Uint8Array(32),
      at: Date.now(),
      topic: 't',
      body: { kind: 'event', data: 'x' },
    }).bytes
    forged[forged.byteLength - 3] = (forged[forged.byteLength - 3] as number) ^ 1
    const mixed = Y.mergeUpdates([
      stranger.durable.encodeCommitted(),
      craftAppend(logDocOf(b.durable), a.identity.id, a.identity.clientId, forged),
    ])
    client.send(encodeSyncUpdate(mixed))
    const closed = await client.closed
    expect(closed.code).toBe(CLOSE_REFUSED_UPDATE)
    expect(closed.reason).toMatch(/bad-signature/)
    expect(b.refused).toEqual(['bad-signature'])
    expect(b.durable.nodes()).toEqual([])
  })
})

describe('a dialer the server does not list', () => {
  it('with readWhenRefused, reads the log where read-only access is on: state reading, nothing written, no redials', async () => {
    const bId = NodeIdentity.generate()
    const b = await node({ identity: bId, membership: memberList([bId.id]) })
    const a = await node()
    await b.append(20)
    await a.append(3)
    const log = recorder()
    const ab = dial(a, b, { logger: log.logger, readWhenRefused: true })
    await waitFor(() => a.durable.committedLength(b.identity.id) === 20, "B's log at A")
    expect(ab.state).toBe('reading')
    await b.append(5)
    await waitFor(() => a.durable.committedLength(b.identity.id) === 25, "B's later entries at A")
    await a.append(2)
    await a.durable.flush()
    expect(b.durable.nodes()).toEqual([b.identity.id])
    expect(ab.state).toBe('reading')
    expect(ab.attempts).toBe(0)
    expect(ab.lag).toBe(0)
    expect(b.refused).toEqual(['auth-failed'])
    expect(b.sync.connections()).toEqual([expect.objectContaining({ node: null })])
    expect(log.warnings.map((w) => w.msg)).toEqual(['sync peer did not accept our proof'])
  })

  it('without readWhenRefused, closes and backs off to the cap even where it could read', async () => {
    const bId = NodeIdentity.generate()
    const b = await node({ identity: bId, membership: memberList([bId.id]) })
    const a = await node()
    await b.append(3)
    const log = recorder()
    const ab = dial(a, b, { logger: log.logger, backoff: { baseMs: 10, capMs: 60_000, random: () => 1 } })
    await waitFor(() => log.infos.some((i) => i.msg === 'sync peer connection closed; redialing'), 'the close')
    expect(log.infos.find((i) => i.msg === 'sync peer connection closed; redialing')).toMatchObject({ refused: true, delay: 60_000 })
    expect(ab.state).toBe('connecting')
    expect(a.durable.committedLength(b.identity.id)).toBe(0)
    expect(b.refused).toEqual(['auth-failed'])
  })

  it('backs off to the cap where it is refused, not to the base', async () => {
    const bId = NodeIdentity.generate()
    const b = await node({ identity: bId, membership: memberList([bId.id]), allowReadOnly: false })
    const a = await node()
    const log = recorder()
    const ab = dial(a, b, { logger: log.logger, backoff: { baseMs: 10, capMs: 60_000, random: () => 0 } })
    await waitFor(() => log.infos.some((i) => i.msg === 'sync peer connection closed; redialing'), 'the close')
    const closed = log.infos.find((i) => i.msg === 'sync peer connection closed; redialing')
    // random 0 gives the lower end of the jitter: half the cap (the base would give 5 ms).
    expect(closed).toMatchObject({ refused: true, delay: 30_000 })
    expect(ab.state).toBe('connecting')
    expect(b.refused).toEqual(['auth-failed'])
  })

  it('redials from the base after a close that is no refusal', async () => {
    const a = await node()
    const b = await node()
    const log = recorder()
    const ab = dial(a, b, { logger: log.logger, backoff: { baseMs: 10, capMs: 60_000, random: () => 0 } })
    await waitFor(() => ab.state === 'open', 'open')
    for (const conn of b.sync.connections()) expect(conn.node).toBe(a.identity.id)
    await b.sync.close()
    await waitFor(() => log.infos.some((i) => i.msg === 'sync peer connection closed; redialing'), 'the close')
    const closed = log.infos.find((i) => i.msg === 'sync peer connection closed; redialing')
    expect(closed).toMatchObject({ code: 1001, refused: false })
    expect(closed?.delay).toBeLessThanOrEqual(10)
  })
})
