import { describe, expect, it, vi } from 'vitest'
import { DurableLog } from '../durable/durable-log.js'
import { MemoryUpdateStore } from '../durable/memory-update-store.js'
import type { EntryInput } from '../entry/entry.js'
import { NodeIdentity } from '../entry/identity.js'
import { waitFor } from '../testing/test-support.js'
import { subscribe } from './subscription.js'

const open = (): Promise<DurableLog> => DurableLog.open({ identity: NodeIdentity.generate(), store: new MemoryUpdateStore() })
const event = (topic: string, i: number): EntryInput => ({ topic, kind: 'event', data: { i } })
const until = (condition: () => boolean): Promise<void> => waitFor(condition, 'the condition', { intervalMs: 0 })

describe("a subscription's life", () => {
  it('closes by break, return() and abort, unregistering from the log each time', async () => {
    const durable = await open()
    let active = 0
    const onCommit = durable.onCommit.bind(durable)
    vi.spyOn(durable, 'onCommit').mockImplementation((listener) => {
      active++
      const off = onCommit(listener)
      return () => {
        active--
        off()
      }
    })
    await Promise.all(Array.from({ length: 5 }, (_, i) => durable.append(event('t', i))))

    let seen = 0
    for await (const item of subscribe(durable)) {
      expect(item.kind).toBe('entry')
      if (++seen === 3) break
    }
    expect(active).toBe(0)

    const returned = subscribe(durable, { after: 'now' })
    const waiting = returned.next()
    await until(() => active === 1)
    await returned.return()
    expect(await waiting).toEqual({ done: true, value: undefined })
    expect(await returned.next()).toEqual({ done: true, value: undefined })
    expect(active).toBe(0)

    const controller = new AbortController()
    const aborted = subscribe(durable, { after: 'now', signal: controller.signal })
    const pending = aborted.next()
    await until(() => active === 1)
    controller.abort()
    expect(await pending).toEqual({ done: true, value: undefined })
    expect(active).toBe(0)

    // Closed before it ever registered: it must not register afterwards.
    const early = new AbortController()
    const never = subscribe(durable, { signal: early.signal })
    early.abort()
    const preAborted = subscribe(durable, { signal: AbortSignal.abort() })
    expect(await never.next()).toEqual({ done: true, value: undefined })
    expect(await preAborted.next()).toEqual({ done: true, value: undefined })
    await durable.append(event('t', 99))
    expect(active).toBe(0)
  })

  it('refuses a bufferSize below 1, an empty kinds list and a malformed start cursor', async () => {
    const durable = await open()
    expect(() => subscribe(durable, { after: new Map([['a'.repeat(64), -1]]) })).toThrow(expect.objectContaining({ code: 'BAD_CURSOR' }))
    expect(() => subscribe(durable, { bufferSize: 0 })).toThrow(expect.objectContaining({ code: 'BAD_ARGUMENT' }))
    expect(() => subscribe(durable, { kinds: [] })).toThrow(expect.objectContaining({ code: 'BAD_ARGUMENT' }))
  })
})
