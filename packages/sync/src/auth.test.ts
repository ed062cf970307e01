import { afterEach, describe, expect, it } from 'vitest'
import { memberList, NodeIdentity } from '@ylog/core'
import { ClientHandshake, decodeAuthMessage, encodeAuthMessage, ServerHandshake, type AuthMessage } from './auth.js'
import { CLOSE_READ_ONLY, CLOSE_UNAUTHORIZED } from './close-codes.js'
import { encodeSyncStep1, encodeSyncUpdate, encodeYlogAuth, type Message } from './protocol.js'
import { authenticate, rawClient, startNode, trackedNodes, waitFor } from './test-support.js'

const { cleanup, node } = trackedNodes(afterEach)

const authIn = (messages: Message[]): AuthMessage[] =>
  messages.flatMap((m) => (m.type === 'ylog-auth' ? [decodeAuthMessage(m.payload)] : []))

describe('the handshake (in memory)', () => {
  it('authenticates both sides', () => {
    const a = NodeIdentity.generate()
    const b = NodeIdentity.generate()
    const server = new ServerHandshake(b, 'c', () => true)
    const client = new ClientHandshake(a, 'c', () => true, b.id)
    const challenge = server.hello(decodeAuthMessage(encodeAuthMessage(client.hello())))
    if (!challenge.ok) throw new Error(challenge.reason)
    const answer = client.challenge(decodeAuthMessage(encodeAuthMessage(challenge.value)))
    if (!answer.ok) throw new Error(answer.reason)
    expect(answer.value.server).toBe(b.id)
    expect(server.proof(decodeAuthMessage(encodeAuthMessage(answer.value.proof)))).toEqual({ ok: true, value: a.id })
  })

  it('refuses a server that is not the expected node, or signs for another nonce', () => {
    const a = NodeIdentity.generate()
    const b = NodeIdentity.generate()
    const challenge = new ServerHandshake(b, 'c', () => true).hello(new ClientHandshake(a, 'c', () => true).hello())
    if (!challenge.ok) throw new Error(challenge.reason)
    // A challenge recorded from another connection: signed over that connection's nonceC.
    expect(new ClientHandshake(a, 'c', () => true).challenge(challenge.value)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/bad challenge signature/),
    })
    expect(new ClientHandshake(a, 'c', () => true, NodeIdentity.generate().id).challenge(challenge.value)).toMatchObject({ ok: false })
  })

  it('refuses a server signature reflected as a client proof', () => {
    const a = NodeIdentity.generate()
    const server = new ServerHandshake(a, 'c', () => true)
    // An attacker who claims to be `a` (the server's own key) and echoes the server's signature.
    const hello: AuthMessage = { kind: 'hello', node: a.publicKey, nonce: new Uint8Array(32), cluster: 'c' }
    const challenge = server.hello(hello)
    if (!challenge.ok || challenge.value.kind !== 'challenge') throw new Error('no challenge')
    expect(server.proof({ kind: 'proof', sig: challenge.value.sig })).toMatchObject({ ok: false })
  })
})

describe('peer authentication on the wire', () => {
  it('a member becomes a writer', async () => {
    const n = await node()
    const client = await rawClient(n.port)
    const id = NodeIdentity.generate()
    expect((await authenticate(client, id)).ok).toBe(true)
    await waitFor(() => n.sync.connections()[0]?.node === id.id, 'the connection marked with its node')
  })

  it('a wrong key (a proof signed by another key) is refused and closed', async () => {
    const n = await node()
    const client = await rawClient(n.port)
    const claimed = NodeIdentity.generate()
    const signer = NodeIdentity.generate()
    client.send(encodeYlogAuth(encodeAuthMessage(new ClientHandshake(claimed, 'ylog', () => true).hello())))
    await waitFor(() => authIn(client.messages).length > 0, 'CHALLENGE')
    const challenge = authIn(client.messages)[0]
    if (challenge?.kind !== 'challenge') throw new Error('no challenge')
    // The signer answers with its own key over the right transcript shape: still not `claimed`.
    const forged = new ClientHandshake(signer, 'ylog', () => true)
    const answer = forged.challenge(challenge)
    expect(answer.ok).toBe(false) // and the signer cannot even verify: the nonceC was claimed's
    client.send(encodeYlogAuth(encodeAuthMessage({ kind: 'proof', sig: signer.sign(new Uint8Array(64)) })))
    const closed = await client.closed
    expect(closed.code).toBe(CLOSE_UNAUTHORIZED)
    expect(closed.reason).toMatch(/auth-failed: bad proof signature/)
    expect(authIn(client.messages).at(-1)).toMatchObject({ kind: 'result', ok: false })
    expect(n.refused).toEqual(['auth-failed'])
  })

  it('a replayed proof is useless on a new connection', async () => {
    const n = await node()
    const id = NodeIdentity.generate()
    const first = await rawClient(n.port)
    const { ok, hello, proof } = await authenticate(first, id)
    expect(ok).toBe(true)
    // Replay the recorded dialogue byte for byte (same HELLO nonce, same PROOF) on a second connection.
    const second = await rawClient(n.port)
    second.send(hello)
    await waitFor(() => authIn(second.messages).length > 0, 'CHALLENGE')
    second.send(proof as Uint8Array)
    const closed = await second.closed
    expect(closed.code).toBe(CLOSE_UNAUTHORIZED)
    expect(closed.reason).toMatch(/bad proof signature/)
    // The replaying connection never wrote: an update from it would have been refused anyway.
    await waitFor(() => n.sync.connections().length === 1, 'the replaying connection gone')
    expect(n.sync.connections().map((c) => c.node)).toEqual([id.id])
  })

  it('a key that is not a member may not write: closed where read-only access is off', async () => {
    const member = NodeIdentity.generate()
    const server = NodeIdentity.generate()
    const n = await node({ identity: server, membership: memberList([server.id, member.id]), allowReadOnly: false })
    const stranger = await rawClient(n.port)
    expect((await authenticate(stranger, NodeIdentity.generate())).ok).toBe(false)
    const closed = await stranger.closed
    expect(closed.code).toBe(CLOSE_UNAUTHORIZED)
    expect(closed.reason).toMatch(/not a member/)
    expect(n.refused).toEqual(['auth-failed'])
    const ok = await rawClient(n.port)
    expect((await authenticate(ok, member)).ok).toBe(true)
  })

  it('a key that is not a member is kept as a reader where read-only access is on, and still may not write', async () => {
    const server = NodeIdentity.generate()
    const n = await node({ identity: server, membership: memberList([server.id]) })
    await n.append(3)
    const strangerId = NodeIdentity.generate()
    const stranger = await rawClient(n.port)
    expect((await authenticate(stranger, strangerId)).ok).toBe(false)
    expect(authIn(stranger.messages).at(-1)).toMatchObject({
      kind: 'result',
      ok: false,
      readOnly: true,
      reason: expect.stringMatching(/^read-only: node .* is not a member/),
    })
    expect(n.refused).toEqual(['auth-failed'])
    // It reads: its step 1 is answered with the log.
    stranger.send(encodeSyncStep1(new Uint8Array([0])))
    await waitFor(() => stranger.messages.some((m) => m.type === 'sync-step2' && m.update.byteLength > 100), 'the log in a step 2')
    expect(n.sync.connections()).toEqual([expect.objectContaining({ node: null })])
    // A write from it is refused like any reader's.
    const writer = await startNode({ identity: strangerId })
    cleanup.push(() => writer.close())
    await writer.append(1)
    stranger.send(encodeSyncUpdate(writer.durable.encodeCommitted()))
    expect((await stranger.closed).code).toBe(CLOSE_READ_ONLY)
    expect(n.durable.nodes()).toEqual([server.id])
  })

  it('a wrong cluster is refused', async () => {
    const n = await node({ cluster: 'blue' })
    const client = await rawClient(n.port, '/sync/blue')
    expect((await authenticate(client, NodeIdentity.generate(), 'red')).ok).toBe(false)
    const closed = await client.closed
    expect(closed.code).toBe(CLOSE_UNAUTHORIZED)
    expect(closed.reason).toMatch(/wrong cluster/)
  })

  it('an unauthenticated connection may not write even valid entries', async () => {
    const n = await node()
    const writer = await startNode()
    cleanup.push(() => writer.close())
    await writer.append(1)
    const client = await rawClient(n.port)
    client.send(encodeSyncUpdate(writer.durable.encodeCommitted()))
    const closed = await client.closed
    expect(closed.code).toBe(CLOSE_READ_ONLY)
    expect(closed.reason).toMatch(/read-only/)
    expect(n.durable.nodes()).toEqual([])
  })
})
