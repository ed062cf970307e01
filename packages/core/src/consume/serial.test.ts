import { describe, expect, it } from 'vitest'
import { KeyedSerial, Serial } from './serial.js'

const deferred = () => {
  let resolve!: () => void
  const promise = new Promise<void>((r) => (resolve = r))
  return { promise, resolve }
}

describe('Serial', () => {
  it('runs jobs one at a time in call order, past a failure', async () => {
    const serial = new Serial()
    const order: string[] = []
    const gate = deferred()
    const a = serial.run(async () => {
      order.push('a start')
      await gate.promise
      order.push('a end')
    })
    const b = serial.run(() => {
      order.push('b')
      throw new Error('b failed')
    })
    const c = serial.run(() => order.push('c'))
    expect(serial.pending).toBe(3)
    await Promise.resolve()
    expect(order).toEqual(['a start'])
    gate.resolve()
    await a
    await expect(b).rejects.toThrow('b failed')
    await c
    expect(order).toEqual(['a start', 'a end', 'b', 'c'])
    expect(serial.pending).toBe(0)
  })
})

describe('KeyedSerial', () => {
  it('serializes per key, runs keys side by side, and forgets idle keys', async () => {
    const keyed = new KeyedSerial<string>()
    const gate = deferred()
    const order: string[] = []
    const x1 = keyed.run('x', async () => {
      await gate.promise
      order.push('x1')
    })
    const x2 = keyed.run('x', () => order.push('x2'))
    const y = keyed.run('y', () => order.push('y'))
    await y
    expect(order).toEqual(['y'])
    gate.resolve()
    await Promise.all([x1, x2])
    expect(order).toEqual(['y', 'x1', 'x2'])
    await Promise.resolve()
    expect(keyed.size).toBe(0)
  })
})
