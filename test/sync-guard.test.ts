// Issue 13, 1 and 2, over the wire: a member peer with a real key and the real handshake sends
// updates that Y.decodeUpdate and Y.applyUpdate read differently, or a held entry that is not signed.
import { afterEach, describe, expect, it } from 'vitest'
import { DurableLog, missingDependencies, LogDoc, MemoryUpdateStore, NodeIdentity, signEntry } from '@ylog/core'
import { fingerprint } from '@ylog/core/testing'
import { connectPeer } from '@ylog/sync'
import { authenticate, closeCodeFor, encodeSyncUpdate, entryStruct, rawClient } from '@ylog/sync/testing'
import { trackedNodes, waitFor, type TestNode } from '@ylog/sync/testing'
import * as Y from 'yjs'
import { encodeStructGroups, logDocOf } from '@ylog/core/internal'

const { cleanup, node } = trackedNodes(afterEach)

/** A member's log of `n` entries, and its structs as Y.decodeUpdate returns them. */
async function member(n: number): Promise<{ identity: NodeIdentity; durable: DurableLog; structs: Array<Y.Item | Y.GC | Y.Skip> }> {
  const identity = NodeIdentity.generate()
  const durable = await DurableLog.open({ identity, store: new MemoryUpdateStore() })
  cleanup.push(() => durable.close())
  for (let i = 0; i < n; i++) await durable.append({ topic: 't', kind: 'event', data: { i } })
  return { identity, durable, structs: Y.decodeUpdate(durable.encodeCommitted()).structs }
}

/** Sends one update from an authenticated attacker; returns the close code. */
async function attack(n: TestNode, update: Uint8Array): Promise<number> {
  const client = await rawClient(n.port)
  expect((await authenticate(client, NodeIdentity.generate())).ok).toBe(true)
  client.send(encodeSyncUpdate(update))
  return (await client.closed).code
}

/** Every head names only entries a reader can read, and nothing waits in Yjs's pending structs. */
function consistent(n: TestNode): void {
  const log = logDocOf(n.durable)
  for (const [node, head] of log.heads()) {
    expect(log.range(node)).toHaveLength(head.length)
    expect(n.durable.committedLength(node)).toBe(head.length)
  }
  expect(missingDependencies(log)).toBeUndefined()
}

describe('a member cannot split a node view with a client named twice', () => {
  it('its own entries in two groups: refused, and the honest encoding is taken afterwards', async () => {
    const n = await node()
    await n.append(3)
    const m = await member(6)
    const before = fingerprint(logDocOf(n.durable))
    expect(await attack(n, encodeStructGroups([m.structs.slice(0, 4), m.structs.slice(4)]))).toBe(closeCodeFor('malformed-update'))
    expect(n.refused).toEqual(['malformed-update'])
    await n.durable.flush()
    expect(fingerprint(logDocOf(n.durable))).toBe(before)
    // The same entries, honestly, from the member itself.
    const peer = connectPeer({ url: `ws://127.0.0.1:${n.port}/sync`, durable: m.durable, identity: m.identity })
    cleanup.push(() => peer.close())
    await waitFor(() => n.durable.committedLength(m.identity.id) === 6, "the member's entries")
    consistent(n)
  })

  it("another member's entries relayed in two groups, a third member's valid chain between them", async () => {
    const n = await node()
    const c = await member(6)
    const b = await member(3)
    const before = fingerprint(logDocOf(n.durable))
    const relayed = encodeStructGroups([c.structs.slice(0, 4), b.structs, c.structs.slice(4)])
    expect(await attack(n, relayed)).toBe(closeCodeFor('malformed-update'))
    await n.durable.flush()
    expect(fingerprint(logDocOf(n.durable))).toBe(before)
    expect(n.durable.holes().size).toBe(0)
    // C's and B's own honest syncs still go through.
    for (const m of [c, b]) {
      const peer = connectPeer({ url: `ws://127.0.0.1:${n.port}/sync`, durable: m.durable, identity: m.identity })
      cleanup.push(() => peer.close())
    }
    const committed = (m: { identity: NodeIdentity }): number => n.durable.committedLength(m.identity.id)
    await waitFor(() => committed(c) === 6 && committed(b) === 3, 'both members synced')
    consistent(n)
    expect(n.refused).toEqual(['malformed-update'])
  })
})

describe('a member cannot fake a hole', () => {
  it("in the node's own chain with an unsigned entry at seq 999,999", async () => {
    const n = await node()
    await n.append(200)
    const fields = { seq: 999_999, prev: new Uint8Array(32), at: 1, topic: 't', body: { kind: 'event' as const, data: 'x' } }
    const forged = signEntry(NodeIdentity.generate(), fields).bytes
    // The victim's own id in the node field, a signature that is not the victim's.
    forged.set(Buffer.from(n.identity.id, 'hex'), 4)
    const held = entryStruct(n.identity.clientId, 999_999, forged)
    const before = fingerprint(logDocOf(n.durable))
    expect(await attack(n, encodeStructGroups([[held]]))).toBe(closeCodeFor('bad-signature'))
    expect(n.refused).toEqual(['bad-signature'])
    expect(n.durable.holes().size).toBe(0)
    expect(n.durable.holes().size).toBe(0)
    expect(fingerprint(logDocOf(n.durable))).toBe(before)
    // A log that knows nothing of the node cannot check the key; it holds the struct, announcing nothing.
    const fresh = new LogDoc()
    expect(fresh.applyRemote(encodeStructGroups([[held]])).status).toBe('held')
    expect(fresh.holes().size).toBe(0)
  })
})
