// Cheap ways to stall or bloat a node (issue 13, 3), each measured on a node in this process.
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { afterEach, describe, expect, it } from 'vitest'
import { NodeIdentity } from '@ylog/core'
import * as decoding from 'lib0/decoding'
import { CLOSE_LIMIT, CLOSE_MALFORMED, CLOSE_READ_ONLY } from './close-codes.js'
import { messageQueryAwareness } from './protocol.js'
import { authenticate, awarenessFrame, fingerprint, rawClient, skipFloodFrame, trackedNodes, waitFor } from './test-support.js'
import type { RawClient } from './test-support.js'
import { logDocOf } from '@ylog/core/internal'

const { node } = trackedNodes(afterEach)

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

/** Heap in use after two full collections. */
function settledHeap(): number {
  gc()
  gc()
  return process.memoryUsage().heapUsed
}

/** Sends `frame` and returns the longest event-loop stall (ms) until the connection is closed. */
async function stallWhileRefused(client: RawClient, frame: Uint8Array): Promise<{ maxDelayMs: number; code: number }> {
  const delay = monitorEventLoopDelay({ resolution: 5 })
  delay.enable()
  client.send(frame)
  const { code } = await client.closed
  delay.disable()
  return { maxDelayMs: delay.max / 1e6, code }
}

/** How many states of an awareness update are not null (null: the client is gone). */
function liveStates(update: Uint8Array): number {
  const d = decoding.createDecoder(update)
  let live = 0
  for (let i = decoding.readVarUint(d); i > 0; i--) {
    decoding.readVarUint(d)
    decoding.readVarUint(d)
    if (decoding.readVarString(d) !== 'null') live++
  }
  return live
}

describe('the decode stall', () => {
  it('is gone for a reader: an 8 MiB skip-struct update is refused undecoded, the event loop never waits 50 ms', async () => {
    const n = await node()
    await n.append(3)
    const frame = skipFloodFrame()
    const client = await rawClient(n.port)
    await waitFor(() => client.messages.some((m) => m.type === 'sync-step1'), 'step 1')
    const before = fingerprint(logDocOf(n.durable))
    const { maxDelayMs, code } = await stallWhileRefused(client, frame)
    expect(code).toBe(CLOSE_READ_ONLY)
    expect(maxDelayMs).toBeLessThan(50)
    expect(n.refused).toEqual(['read-only'])
    expect(fingerprint(logDocOf(n.durable))).toBe(before)
  })

  it('is gone for a member too: the scan refuses it after two structs', async () => {
    const n = await node()
    const frame = skipFloodFrame()
    const client = await rawClient(n.port)
    expect((await authenticate(client, NodeIdentity.generate())).ok).toBe(true)
    const { maxDelayMs, code } = await stallWhileRefused(client, frame)
    expect(code).toBe(CLOSE_MALFORMED)
    expect(maxDelayMs).toBeLessThan(50)
    expect(n.refused).toEqual(['malformed-update'])
  })
})

describe('awareness', () => {
  it('of clients that invent ids is refused, and the heap returns to its baseline once connections close', async () => {
    const n = await node()
    const baseline = settledHeap()
    // Three 4 MiB frames of null states for new ids (~400k ids each).
    for (let k = 0; k < 3; k++) {
      const client = await rawClient(n.port)
      client.send(awarenessFrame(1 + k * 500_000, 400_000, 'null'))
      await waitFor(() => n.refused.length > k || client.isClosed(), 'the frame handled')
      client.ws.close()
      await client.closed
    }
    await waitFor(() => n.sync.connections().length === 0, 'connections gone')
    expect(settledHeap() - baseline).toBeLessThan(8 * 1024 * 1024)
    expect(n.refused).toEqual(['awareness-limit', 'awareness-limit', 'awareness-limit'])
  })

  it('of a closed connection is removed for everyone, the rest is relayed', async () => {
    const n = await node()
    const speaker = await rawClient(n.port)
    speaker.send(awarenessFrame(77, 2, JSON.stringify({ user: 'ada' })))
    const listener = await rawClient(n.port)
    const states = async (): Promise<number> => {
      const count = listener.messages.length
      listener.send(Uint8Array.of(messageQueryAwareness))
      await waitFor(() => listener.messages.slice(count).some((m) => m.type === 'awareness'), 'an awareness answer')
      const answer = listener.messages.slice(count).find((m) => m.type === 'awareness') as { update: Uint8Array }
      return liveStates(answer.update)
    }
    expect(await states()).toBe(2)
    speaker.ws.close()
    await speaker.closed
    await waitFor(() => n.sync.connections().length === 1, 'the speaker gone')
    expect(await states()).toBe(0)
    const tooMany = await rawClient(n.port)
    tooMany.send(awarenessFrame(1000, 9, 'null'))
    expect((await tooMany.closed).code).toBe(CLOSE_LIMIT)
    const tooBig = await rawClient(n.port)
    tooBig.send(awarenessFrame(2000, 1, JSON.stringify({ big: 'x'.repeat(70_000) })))
    expect((await tooBig.closed).code).toBe(CLOSE_LIMIT)
  })
})

describe('backpressure', () => {
  it('cuts a client that sends queries but reads nothing, before its answers pile up in memory', async () => {
    const n = await node({ maxBufferedBytes: 4 * 1024 * 1024 })
    // 480 KB of awareness states for every query to answer.
    const speaker = await rawClient(n.port)
    speaker.send(awarenessFrame(500, 8, JSON.stringify({ pad: 'x'.repeat(60_000) })))
    const idle = await rawClient(n.port)
    idle.send(Uint8Array.of(messageQueryAwareness))
    await waitFor(() => idle.messages.some((m) => m.type === 'awareness' && liveStates(m.update) === 8), 'the states relayed')
    ;(idle.ws as unknown as { _socket: { pause(): void } })._socket.pause()
    // Buffers still referenced after a collection: what the node holds for the idle client (garbage would only add noise).
    const held = (): number => {
      gc()
      return process.memoryUsage().arrayBuffers
    }
    const baseline = held()
    let peak = 0
    for (let i = 0; i < 300 && !n.refused.includes('backpressure'); i++) {
      idle.send(Uint8Array.of(messageQueryAwareness))
      await new Promise((resolve) => setImmediate(resolve))
      if (i % 10 === 9) peak = Math.max(peak, held() - baseline)
    }
    await waitFor(() => n.refused.includes('backpressure'), 'the idle client cut')
    // 300 answers are 144 MB; the node holds at most its bound (plus a frame) before cutting, the kernel the rest.
    expect(peak, `peak ${peak} bytes`).toBeLessThan(12 * 1024 * 1024)
    await waitFor(() => n.sync.connections().length === 1, 'only the speaker left')
  })
})
