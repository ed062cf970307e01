// A member peer (real key, real handshake) and unauthenticated clients send seeded-random malicious
// messages to a real node's /sync (issue 13); afterwards the node is alive, its heads, holes and entries
// are byte-identical to before, a fresh stock client syncs the whole log, and /metrics and the logs
// count every refusal by its reason.
//
//   YLOG_FUZZ_MESSAGES=10000 YLOG_FUZZ_SEED=7   more messages, another sequence
import { randomBytes } from 'node:crypto'
import { afterEach, expect, it } from 'vitest'
import { DurableLog, LogDoc, MemoryUpdateStore, NodeIdentity } from '@ylog/core'
import { connectPeer } from '@ylog/sync'
import { authenticate, awarenessFrame, encodeAuthMessage, encodeSyncStep1, encodeSyncUpdate, encodeYlogAuth } from '@ylog/sync/testing'
import { messageQueryAwareness, rawClient, skipFloodFrame, untilReceived, waitFor, type RawClient } from '@ylog/sync/testing'
import { WebSocket } from 'ws'
import { WebsocketProvider } from 'y-websocket'
import * as Y from 'yjs'
import { getJson, waitUntil } from './support/cluster.js'
import { postEvent, readAll, seededRandom, startNode, tempDir, type RunningNode } from './support/node-process.js'
import { craft, KINDS, nextAttack, type Attack, type Scene } from './support/sync-attacks.js'

const MESSAGES = Number(process.env.YLOG_FUZZ_MESSAGES ?? 2000)
const SEED = Number(process.env.YLOG_FUZZ_SEED ?? 13)

const cleanup: Array<() => Promise<unknown> | unknown> = []
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step()
})

/** ylog_refused_updates_total by reason. */
async function refusals(url: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text()
  const counts = new Map<string, number>()
  for (const m of text.matchAll(/^ylog_refused_updates_total\{reason="([^"]+)"\} (\S+)$/gm)) counts.set(m[1] as string, Number(m[2]))
  return counts
}

const headsOf = async (url: string): Promise<Array<{ node: string; length: number; forked: boolean }>> =>
  (await getJson<{ heads: Array<{ node: string; length: number; forked: boolean }> }>(`${url}/api/heads`)).heads

/** A member's log of `n` entries, synced to the node and then disconnected. */
async function syncedMember(url: string, identity: NodeIdentity, n: number): Promise<void> {
  const durable = await DurableLog.open({ identity, store: new MemoryUpdateStore() })
  for (let i = 0; i < n; i++) await durable.append({ topic: 'member', kind: 'event', data: { i } })
  const peer = connectPeer({ url: `${url.replace(/^http/, 'ws')}/sync`, durable, identity })
  await waitUntil(
    async () => (await headsOf(url)).some((h) => h.node === identity.id && h.length === n),
    () => `${identity.id} synced`,
  )
  await peer.close()
  await durable.close()
}

/** What a reader receives for a step 1 with an empty state vector: the whole committed log. */
async function mirrorOf(port: number): Promise<LogDoc> {
  const client = await rawClient(port)
  client.send(encodeSyncStep1(Y.encodeStateVector(new Y.Doc())))
  await waitFor(() => client.messages.some((m) => m.type === 'sync-step2'), 'the catch-up')
  const mirror = new LogDoc()
  for (const m of client.messages) if (m.type === 'sync-update' || m.type === 'sync-step2') mirror.applyRemote(m.update)
  client.ws.close()
  return mirror
}

const TITLE = `survives ${MESSAGES} seeded malicious messages (seed ${SEED}) unchanged, and counts every refusal`

it(TITLE, { timeout: 60_000 + MESSAGES * 20 }, async () => {
  const attacker = NodeIdentity.generate()
  const other = NodeIdentity.generate()
  const stranger = NodeIdentity.generate()
  const node: RunningNode = await startNode(['--data', tempDir(), '--member', attacker.id, '--member', other.id])
  cleanup.push(() => node.stop())
  const port = Number(new URL(node.url).port)
  for (let i = 0; i < 20; i++) await postEvent(node.url, { i }, 'own')
  await syncedMember(node.url, attacker, 10)
  await syncedMember(node.url, other, 30)
  const strangerLog = new LogDoc({ identity: stranger })
  for (let i = 0; i < 3; i++) strangerLog.append({ topic: 'stranger', kind: 'event', data: i })
  const scene: Scene = {
    mirror: await mirrorOf(port),
    victim: node.node,
    attacker,
    other,
    stranger,
    strangerUpdate: Y.encodeStateAsUpdate(strangerLog.doc),
    skipFlood: skipFloodFrame(),
    oversized: encodeSyncUpdate(randomBytes(16 * 1024 * 1024)),
  }
  expect(scene.mirror.length(node.node)).toBe(20)
  const stateVector = Y.encodeStateVector(scene.mirror.doc)

  const tally = new Map<string, number>()
  const count = (reason: string): void => void tally.set(reason, (tally.get(reason) ?? 0) + 1)
  const failures: string[] = []
  let member: RawClient | undefined
  let reader: RawClient | undefined
  let connections = 0
  const skipped = new Set<string>()
  const open = async (authenticated: boolean): Promise<RawClient> => {
    const client = await rawClient(port)
    ;(client as RawClient & { id: number }).id = connections++
    cleanup.push(() => client.ws.terminate())
    if (authenticated) expect((await authenticate(client, attacker)).ok).toBe(true)
    return client
  }
  /** A round trip after the attack: a step 1 answered means the node took the frames before it without closing. */
  const barrier = async (client: RawClient): Promise<boolean> => {
    const before = client.messages.filter((m) => m.type === 'sync-step2').length
    client.send(encodeSyncStep1(stateVector))
    const answers = (): number => client.messages.filter((m) => m.type === 'sync-step2').length
    await untilReceived(client, () => client.isClosed() || answers() > before, 'the step 1 answered')
    return !client.isClosed()
  }

  // The attacker's real fork, before the "before" picture: later forks by the same key change nothing.
  const firstFork = await open(true)
  const fork = craft('fork', scene, seededRandom(1))
  for (const frame of fork.frames) firstFork.send(frame)
  expect((await firstFork.closed).reason).toMatch(/^fork:/)
  await waitUntil(
    async () => (await headsOf(node.url)).some((h) => h.forked),
    () => 'the fork recorded',
  )

  const headsBefore = JSON.stringify(await getJson(`${node.url}/api/heads`))
  const entriesBefore = JSON.stringify(await readAll(node.url))
  const metricsBefore = await refusals(node.url)
  const logsBefore = node.logs.length

  const rand = seededRandom(SEED)
  const seen = new Set<string>()
  // Every kind once, in a seeded order, then kinds drawn at random.
  const firsts = [...KINDS].sort(() => rand() - 0.5)
  for (let i = 0; i < MESSAGES; i++) {
    const attack = i < firsts.length ? craft(firsts[i] as string, scene, rand) : nextAttack(scene, rand)
    seen.add(attack.kind)
    let client: RawClient
    if (attack.side === 'member') client = member !== undefined && !member.isClosed() ? member : (member = await open(true))
    else if (attack.side === 'reader') client = reader !== undefined && !reader.isClosed() ? reader : (reader = await open(false))
    else client = await open(false)
    for (const frame of attack.frames) client.send(frame)
    const got = await outcomeOf(attack, client)
    if (got !== undefined) failures.push(`#${i} ${attack.kind}: ${got}`)
  }

  async function outcomeOf(attack: Attack, client: RawClient): Promise<string | undefined> {
    const { outcome } = attack
    if (attack.then === 'bad-proof') {
      await untilReceived(client, () => client.messages.some((m) => m.type === 'ylog-auth') || client.isClosed(), 'CHALLENGE')
      client.send(encodeYlogAuth(encodeAuthMessage({ kind: 'proof', sig: new Uint8Array(randomBytes(64)) })))
    }
    if ('kept' in outcome) {
      const result = await authenticate(client, stranger)
      count(outcome.kept)
      client.ws.close()
      return result.ok || client.isClosed() ? 'the stranger was not kept as a reader' : undefined
    }
    if ('close' in outcome) {
      const closed = await Promise.race([client.closed, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 10_000))])
      if (closed === undefined) return `expected a close for ${outcome.close}, the connection stayed open`
      const reason = closed.code === 1009 ? 'frame-too-large' : closed.reason.split(':')[0]
      count(reason as string)
      return reason === outcome.close ? undefined : `expected ${outcome.close}, closed ${closed.code} "${closed.reason}"`
    }
    if (!(await barrier(client))) return `expected no close, closed: ${(await client.closed).reason}`
    if ('skip' in outcome) {
      const key = `${(client as RawClient & { id: number }).id}:${outcome.client}`
      if (!skipped.has(key)) count(outcome.skip)
      skipped.add(key)
    }
    return undefined
  }

  // Backpressure, twice: a client that asks for awareness (512 KB of states to answer) and reads nothing.
  for (let episode = 0; episode < 2; episode++) {
    const speaker = await open(false)
    speaker.send(awarenessFrame(7_000_000 + episode * 10, 8, JSON.stringify({ pad: 'x'.repeat(62_000) })))
    const idle = await open(false)
    ;(idle.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket.pause()
    for (let q = 0; q < 200; q++) idle.send(Uint8Array.of(messageQueryAwareness))
    const cut = (metricsBefore.get('backpressure') ?? 0) + episode + 1
    await waitUntil(
      async () => (await refusals(node.url)).get('backpressure') === cut,
      () => 'the idle client cut',
    )
    count('backpressure')
    ;(idle.ws as unknown as { _socket: { resume(): void } })._socket.resume()
    await idle.closed
    speaker.ws.close()
    await speaker.closed
  }

  expect(failures).toEqual([])
  expect([...seen].sort()).toEqual([...KINDS].sort())

  // Alive, and nothing changed.
  expect((await fetch(`${node.url}/healthz`)).status).toBe(200)
  expect(JSON.stringify(await getJson(`${node.url}/api/heads`))).toBe(headsBefore)
  const entries = await readAll(node.url)
  expect(JSON.stringify(entries)).toBe(entriesBefore)

  // A fresh stock client syncs the whole log.
  const doc = new Y.Doc()
  const polyfill = WebSocket as unknown as typeof globalThis.WebSocket
  const syncUrl = `${node.url.replace('http', 'ws')}/sync`
  const provider = new WebsocketProvider(syncUrl, 'ylog', doc, { WebSocketPolyfill: polyfill, disableBc: true })
  cleanup.push(() => provider.destroy())
  await waitFor(() => provider.synced, 'the stock client synced')
  const replica = new LogDoc()
  replica.applyRemote(Y.encodeStateAsUpdate(doc))
  expect([...replica.entries()].map((e) => e.hash).sort()).toEqual(entries.map((e) => e.hash).sort())

  // Every refusal counted by its reason, and logged naming it.
  const metricsAfter = await refusals(node.url)
  const sorted = (counts: Iterable<[string, number]>): Record<string, number> =>
    Object.fromEntries([...counts].filter(([, n]) => n > 0).sort())
  const delta = [...metricsAfter].map(([reason, n]): [string, number] => [reason, n - (metricsBefore.get(reason) ?? 0)])
  expect(sorted(delta)).toEqual(sorted(tally))
  const logged = new Map<string, number>()
  for (const record of node.logs.slice(logsBefore)) {
    if (typeof record.reason === 'string' && record.level === 40) logged.set(record.reason, (logged.get(record.reason) ?? 0) + 1)
  }
  expect(sorted(logged)).toEqual(sorted(tally))
  // Yjs applied every accepted update (the replays) exactly as the guard checked it.
  expect(await (await fetch(`${node.url}/metrics`)).text()).toMatch(/^ylog_guard_mismatches 0$/m)
})
