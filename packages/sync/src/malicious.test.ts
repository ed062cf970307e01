import { randomBytes } from 'node:crypto'
import { connect } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { NodeIdentity, sha256, signEntry } from '@ylog/core'
import * as Y from 'yjs'
import type { SyncRefusalReason } from './channel.js'
import { closeCodeFor } from './close-codes.js'
import { encodeSyncStep2, encodeSyncUpdate } from './protocol.js'
import { authenticate, craftAppend, fingerprint, rawClient, trackedNodes, waitFor, type TestNode } from './test-support.js'
import { logDocOf, ROOT_MAP } from '@ylog/core/internal'

const tracked = trackedNodes(afterEach)

/** A node holding 5 entries of its own. */
async function node(options: Parameters<typeof tracked.node>[0] = {}): Promise<TestNode> {
  const n = await tracked.node(options)
  await n.append(5)
  return n
}

/** The node's next honest entry fields, for forgeries. */
function nextFields(n: TestNode) {
  const head = n.durable.heads().get(n.identity.id)
  return {
    seq: 5,
    prev: new Uint8Array(Buffer.from(head?.hash as string, 'hex')),
    at: head?.at as number,
    topic: 't',
    body: { kind: 'event' as const, data: 'x' },
  }
}

/** Sends one frame from an authenticated raw peer; expects a close with the reason's 44xx code, the reason counted, and no change. */
async function expectRefused(n: TestNode, frame: (n: TestNode) => Uint8Array, reason: SyncRefusalReason): Promise<void> {
  const client = await rawClient(n.port)
  expect((await authenticate(client, NodeIdentity.generate())).ok).toBe(true)
  await waitFor(() => n.durable.pending === 0, 'idle')
  const before = fingerprint(logDocOf(n.durable))
  client.send(frame(n))
  const closed = await client.closed
  expect(closed.code).toBe(closeCodeFor(reason))
  expect(closed.code).toBeGreaterThanOrEqual(4400)
  expect(closed.code).toBeLessThan(4500)
  expect(closed.reason).toContain(reason)
  expect(n.refused.at(-1)).toBe(reason)
  await n.durable.flush()
  expect(fingerprint(logDocOf(n.durable))).toBe(before)
}

describe('the sync server refuses and disconnects', () => {
  it('an update that deletes', async () => {
    const n = await node()
    await expectRefused(
      n,
      (n) => {
        const evil = new Y.Doc()
        Y.applyUpdate(evil, n.durable.encodeCommitted())
        const sv = Y.encodeStateVector(evil)
        ;(evil.getMap(ROOT_MAP).get(n.identity.id) as Y.Array<Y.Array<Uint8Array>>).get(0).delete(0, 2)
        return encodeSyncUpdate(Y.encodeStateAsUpdate(evil, sv))
      },
      'delete',
    )
  })

  it('a forged signature', async () => {
    const n = await node()
    await expectRefused(
      n,
      (n) => {
        const { bytes } = signEntry(n.identity, nextFields(n))
        bytes[bytes.byteLength - 3] = (bytes[bytes.byteLength - 3] as number) ^ 1
        return encodeSyncUpdate(craftAppend(logDocOf(n.durable), n.identity.id, n.identity.clientId, bytes))
      },
      'bad-signature',
    )
  })

  it('a seq that skips (as sync step 2)', async () => {
    const n = await node()
    await expectRefused(
      n,
      (n) =>
        encodeSyncStep2(
          craftAppend(logDocOf(n.durable), n.identity.id, n.identity.clientId, signEntry(n.identity, { ...nextFields(n), seq: 6 }).bytes),
        ),
      'bad-seq',
    )
  })

  it('a seq that repeats', async () => {
    const n = await node()
    await expectRefused(
      n,
      (n) =>
        encodeSyncUpdate(
          craftAppend(logDocOf(n.durable), n.identity.id, n.identity.clientId, signEntry(n.identity, { ...nextFields(n), seq: 4 }).bytes),
        ),
      'bad-seq',
    )
  })

  it("an update that overwrites a node's key in the root map", async () => {
    const n = await node()
    const attacker = NodeIdentity.generate()
    const client = await rawClient(n.port)
    expect((await authenticate(client, attacker)).ok).toBe(true)
    await waitFor(() => n.durable.pending === 0, 'idle')
    const before = fingerprint(logDocOf(n.durable))
    const evil = new Y.Doc()
    Y.applyUpdate(evil, n.durable.encodeCommitted())
    evil.clientID = attacker.clientId
    const sv = Y.encodeStateVector(evil)
    evil.getMap(ROOT_MAP).set(n.identity.id, new Y.Array())
    client.send(encodeSyncUpdate(Y.encodeStateAsUpdate(evil, sv)))
    const closed = await client.closed
    // Replacing a key deletes the old value and writes a structure no writer may write; either refusal is right.
    expect(['delete', 'foreign-structure']).toContain(n.refused.at(-1))
    expect(closed.code).toBe(closeCodeFor(n.refused.at(-1) as SyncRefusalReason))
    await n.durable.flush()
    expect(fingerprint(logDocOf(n.durable))).toBe(before)
  })

  it("an entry in another node's part", async () => {
    const n = await node()
    const other = NodeIdentity.generate()
    await expectRefused(
      n,
      (n) => encodeSyncUpdate(craftAppend(logDocOf(n.durable), n.identity.id, n.identity.clientId, signEntry(other, nextFields(n)).bytes)),
      'wrong-node',
    )
  })

  it('a broken chain', async () => {
    const n = await node()
    await expectRefused(
      n,
      (n) =>
        encodeSyncUpdate(
          craftAppend(
            logDocOf(n.durable),
            n.identity.id,
            n.identity.clientId,
            signEntry(n.identity, { ...nextFields(n), prev: sha256(randomBytes(8)) }).bytes,
          ),
        ),
      'bad-prev',
    )
  })

  it('random bytes as a sync message', async () => {
    const n = await node()
    // 0xff.. is not a Yjs update header, so the guard cannot take it for a held one.
    await expectRefused(n, () => encodeSyncUpdate(Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0x0f, ...randomBytes(64)])), 'malformed-update')
  })

  it('random bytes as a whole frame', async () => {
    const n = await node()
    await expectRefused(n, () => Uint8Array.from([0x7f, ...randomBytes(200)]), 'malformed-frame')
    await expectRefused(n, () => Uint8Array.from([0, 1, 0xff, 0xff, 0xff]), 'malformed-frame') // a length past the end
    await expectRefused(n, () => Uint8Array.from([0, 9, 0]), 'malformed-frame') // unknown sync type
    await expectRefused(n, () => Uint8Array.from([0, 2, 1, 0, 7]), 'malformed-frame') // trailing bytes
    await expectRefused(n, () => Uint8Array.from([100, 3, 1, 2, 3]), 'auth-failed') // auth payload that is no auth message
  })

  it('random frames from a read-only client, and stays up', async () => {
    const n = await node()
    const before = fingerprint(logDocOf(n.durable))
    for (let i = 0; i < 30; i++) {
      const client = await rawClient(n.port)
      client.send(randomBytes(8 + i * 7)) // long enough that no random frame is a valid message by chance
      await client.closed.then(
        () => undefined,
        () => undefined,
      )
    }
    expect(n.refused).toHaveLength(30)
    expect(fingerprint(logDocOf(n.durable))).toBe(before)
    // The node still serves.
    const client = await rawClient(n.port)
    await waitFor(() => client.messages.some((m) => m.type === 'sync-step1'), 'step 1')
  })

  it('a frame over maxFrameBytes, with 1009 before decoding', async () => {
    const n = await node({ maxFrameBytes: 1024 })
    const client = await rawClient(n.port)
    expect((await authenticate(client, NodeIdentity.generate())).ok).toBe(true)
    const before = fingerprint(logDocOf(n.durable))
    client.send(encodeSyncUpdate(randomBytes(2048)))
    expect((await client.closed).code).toBe(1009)
    await waitFor(() => n.refused.includes('frame-too-large'), 'the refusal counted')
    expect(fingerprint(logDocOf(n.durable))).toBe(before)
  })

  it('a 100 MiB frame at the default limit, without buffering it', async () => {
    const n = await node()
    const total = 100 * 1024 * 1024
    const baseline = process.memoryUsage()
    // A real WebSocket frame, streamed by hand so the test itself holds 64 KiB at a time.
    const outcome = await new Promise<{ closeCode: number | undefined; sent: number }>((resolve) => {
      const socket = connect(n.port, '127.0.0.1')
      let sent = 0
      let response = Buffer.alloc(0)
      let upgraded = false
      const chunk = Buffer.alloc(64 * 1024, 0x41)
      const finish = (closeCode: number | undefined) => {
        socket.destroy()
        resolve({ closeCode, sent })
      }
      socket.on('error', () => finish(undefined))
      socket.on('close', () => finish(undefined))
      socket.on('connect', () => {
        socket.write(
          `GET /sync/ylog HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ` +
            `${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
        )
      })
      socket.on('data', (data) => {
        response = Buffer.concat([response, data])
        if (!upgraded) {
          const end = response.indexOf('\r\n\r\n')
          if (end < 0) return
          expect(response.subarray(0, 12).toString()).toBe('HTTP/1.1 101')
          upgraded = true
          response = response.subarray(end + 4)
          // FIN + binary, MASK + 127 (64-bit length), the length, a zero mask key.
          const header = Buffer.alloc(14)
          header[0] = 0x82
          header[1] = 0x80 | 127
          header.writeBigUInt64BE(BigInt(total), 2)
          socket.write(header)
          const pump = () => {
            while (sent < total && !socket.destroyed) {
              sent += chunk.length
              if (!socket.write(chunk)) return socket.once('drain', pump)
            }
          }
          pump()
        }
        // Server frames: skip the step 1 and awareness frames, find the close frame (opcode 8).
        while (response.length >= 2) {
          const len = (response[1] as number) & 0x7f
          const headerLen = len === 126 ? 4 : len === 127 ? 10 : 2
          const bodyLen = len === 126 ? response.readUInt16BE(2) : len === 127 ? Number(response.readBigUInt64BE(2)) : len
          if (response.length < headerLen + bodyLen) return
          if (((response[0] as number) & 0x0f) === 8) return finish(response.readUInt16BE(headerLen))
          response = response.subarray(headerLen + bodyLen)
        }
      })
    })
    expect(outcome.closeCode).toBe(1009)
    expect(outcome.sent).toBeLessThan(total)
    await waitFor(() => n.refused.includes('frame-too-large'), 'the refusal counted')
    const grown = process.memoryUsage().arrayBuffers - baseline.arrayBuffers
    expect(grown).toBeLessThan(32 * 1024 * 1024)
  })
})
